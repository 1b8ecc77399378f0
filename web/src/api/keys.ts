// Query keys, in one place so that the live-event reducer and the pages agree on them.
// Hierarchical: invalidating a prefix (e.g. `['users']`) reaches every page of the list.

export interface UserListParams {
  limit: number;
  offset: number;
  q: string;
}

export interface AuditParams {
  actor: string;
  action: string;
  result: '' | 'success' | 'failure';
  since: string;
  until: string;
  limit: number;
  offset: number;
}

/** Docker-side resources that are listed by the pages under "Fleet". */
export type ResourceKind = 'nodes' | 'containers' | 'stacks' | 'images' | 'volumes' | 'networks';

export const qk = {
  health: ['health'] as const,
  me: ['me'] as const,
  users: ['users'] as const,
  userLists: ['users', 'list'] as const,
  userList: (p: UserListParams) => ['users', 'list', p] as const,
  user: (id: string) => ['users', 'detail', id] as const,
  apiKeys: ['keys'] as const,
  modules: ['modules'] as const,
  moduleConfig: (name: string) => ['config', name] as const,
  settings: ['settings'] as const,
  setting: (key: string) => ['settings', key] as const,
  audit: ['audit'] as const,
  auditList: (p: AuditParams) => ['audit', p] as const,
  activity: ['activity'] as const,
  activityList: (limit: number) => ['activity', limit] as const,
  notifications: ['notifications'] as const,
  notificationList: (limit: number) => ['notifications', limit] as const,
  systemInfo: ['system', 'info'] as const,
  resources: (kind: ResourceKind) => ['resources', kind] as const,
  alerts: ['alerts'] as const,
};
