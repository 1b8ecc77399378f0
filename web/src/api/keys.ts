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

export interface StackListParams {
  limit: number;
  offset: number;
  endpoint: string;
  name: string;
  status: string;
  /** '' (all), 'stored' or 'discovered'. */
  source: string;
}

export interface NodeListParams {
  limit: number;
  offset: number;
  q: string;
  /** '' or a node status. */
  status: string;
  /** '' or `key=value`. */
  label: string;
}

export interface PageParams {
  limit: number;
  offset: number;
}

export interface ContainerListParams {
  limit: number;
  offset: number;
  endpoint: string;
  name: string;
  state: string;
  label: string;
}

/** Lists gathered across endpoints, optionally narrowed to one, a page at a time. */
export interface EndpointFilter {
  endpoint: string;
  limit?: number;
  offset?: number;
}

export const qk = {
  health: ['health'] as const,
  me: ['me'] as const,
  users: ['users'] as const,
  userLists: ['users', 'list'] as const,
  userList: (p: UserListParams) => ['users', 'list', p] as const,
  user: (id: string) => ['users', 'detail', id] as const,
  apiKeys: ['keys'] as const,
  apiKeyList: (p: PageParams) => ['keys', 'list', p] as const,
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
  // Fleet. Node lists, details, policies and censuses share the `nodes` prefix.
  nodes: ['nodes'] as const,
  nodeLists: ['nodes', 'list'] as const,
  nodeList: (p: NodeListParams) => ['nodes', 'list', p] as const,
  nodeDetails: ['nodes', 'detail'] as const,
  node: (id: string) => ['nodes', 'detail', id] as const,
  fleetStatus: ['nodes', 'fleet-status'] as const,
  /** Fused nodes as endpoint choices for people who may not list endpoints. */
  nodeEndpointOptions: ['nodes', 'endpoint-options'] as const,
  nodePolicy: (id: string) => ['nodes', 'policy', id] as const,
  nodeCensuses: ['nodes', 'census'] as const,
  nodeCensus: (id: string) => ['nodes', 'census', id] as const,
  nodeCensusDiff: (id: string) => ['nodes', 'census', id, 'diff'] as const,
  fleetTopology: ['topology'] as const,
  hosts: ['hosts'] as const,
  hostLists: ['hosts', 'list'] as const,
  hostList: (p: PageParams) => ['hosts', 'list', p] as const,
  host: (id: string) => ['hosts', 'detail', id] as const,
  hostAttempts: (id: string) => ['hosts', 'attempts', id] as const,
  // Docker objects.
  containers: ['containers'] as const,
  containerLists: ['containers', 'list'] as const,
  containerList: (p: ContainerListParams) => ['containers', 'list', p] as const,
  containerDetails: ['containers', 'detail'] as const,
  container: (endpoint: string, id: string) => ['containers', 'detail', endpoint, id] as const,
  containerInspects: ['containers', 'inspect'] as const,
  containerInspect: (endpoint: string, id: string) => ['containers', 'inspect', endpoint, id] as const,
  containerLogs: (endpoint: string, id: string, tail: number) => ['containers', 'logs', endpoint, id, tail] as const,
  images: ['images'] as const,
  imageList: (f: EndpointFilter) => ['images', 'list', f] as const,
  volumes: ['volumes'] as const,
  volumeList: (f: EndpointFilter) => ['volumes', 'list', f] as const,
  networks: ['networks'] as const,
  networkLists: ['networks', 'list'] as const,
  networkList: (f: EndpointFilter) => ['networks', 'list', f] as const,
  networkTopology: (f: EndpointFilter) => ['networks', 'topology', f] as const,
  networkInspect: (endpoint: string, id: string) => ['networks', 'inspect', endpoint, id] as const,
  endpoints: ['endpoints'] as const,
  // Stacks: lists and details share the prefix (any stack.update refreshes both).
  stacks: ['stacks'] as const,
  stackList: (p: StackListParams) => ['stacks', 'list', p] as const,
  stack: (id: string) => ['stacks', 'detail', id] as const,
  alerts: ['alerts'] as const,
};
