// react-query hooks over the REST API. Mutations live with the pages that use them; what is
// shared (session, settings, lists read from several places) is here.

import { keepPreviousData, useQuery, type QueryClient } from '@tanstack/react-query';
import { api, isApiError } from './client';
import { typed } from './typed';
import { qk, type AuditParams, type PageParams, type UserListParams } from './keys';
import type {
  ApiKey,
  AuditEntry,
  Health,
  ItemList,
  LiveEvent,
  Me,
  ModuleConfig,
  ModuleInfo,
  NotificationItem,
  Page,
  Setting,
  SystemInfo,
  User,
} from './types';

export const fetchHealth = (): Promise<Health> => typed.get('/api/health');

export function useHealth() {
  return useQuery({ queryKey: qk.health, queryFn: fetchHealth, staleTime: 60_000 });
}

/** The signed-in user, or `null` when there is no (refreshable) session. */
export async function fetchMe(): Promise<Me | null> {
  try {
    return await typed.get('/api/auth/me');
  } catch (e) {
    if (isApiError(e) && e.status === 401) return null;
    throw e;
  }
}

export function useMe() {
  return useQuery({ queryKey: qk.me, queryFn: fetchMe, staleTime: Infinity });
}

/** Clears everything cached for the previous session. */
export function resetSession(qc: QueryClient, me: Me | null): void {
  const health = qc.getQueryData<Health>(qk.health);
  qc.clear();
  if (health) qc.setQueryData(qk.health, { ...health, setup_required: false });
  qc.setQueryData(qk.me, me);
}

/** A setting, or `null` when unset (404). */
export function useSetting<V = unknown>(key: string, enabled = true) {
  return useQuery({
    queryKey: qk.setting(key),
    enabled,
    staleTime: 5 * 60_000,
    queryFn: async (): Promise<Setting<V> | null> => {
      try {
        return await api.get<Setting<V>>(`/api/settings/${encodeURIComponent(key)}`);
      } catch (e) {
        if (isApiError(e) && e.status === 404) return null;
        throw e;
      }
    },
  });
}

export function useUserList(p: UserListParams) {
  return useQuery({
    queryKey: qk.userList(p),
    queryFn: ({ signal }): Promise<Page<User>> => typed.get('/api/users', { query: { ...p }, signal }),
    placeholderData: keepPreviousData,
  });
}

/** The signed-in user's API keys, a page at a time. */
export function useApiKeys(p: PageParams) {
  return useQuery({
    queryKey: qk.apiKeyList(p),
    queryFn: ({ signal }) => api.get<Page<ApiKey>>('/api/keys', { query: { ...p }, signal }),
    placeholderData: keepPreviousData,
  });
}

export function useModules() {
  return useQuery({ queryKey: qk.modules, queryFn: (): Promise<ItemList<ModuleInfo>> => typed.get('/api/modules') });
}

export function useModuleConfig(name: string, enabled = true) {
  return useQuery({
    queryKey: qk.moduleConfig(name),
    enabled,
    queryFn: () => api.get<ModuleConfig>(`/api/config/${encodeURIComponent(name)}`),
  });
}

export function useAudit(p: AuditParams) {
  return useQuery({
    queryKey: qk.auditList(p),
    queryFn: ({ signal }): Promise<Page<AuditEntry>> => typed.get('/api/audit', { query: { ...p, result: p.result || undefined }, signal }),
    placeholderData: keepPreviousData,
  });
}

export function useActivity(limit: number) {
  return useQuery({
    queryKey: qk.activityList(limit),
    queryFn: () => api.get<ItemList<LiveEvent>>('/api/activity', { query: { limit } }),
    // Kept current by the live stream.
    staleTime: Infinity,
  });
}

export function useNotifications(limit: number) {
  return useQuery({
    queryKey: qk.notificationList(limit),
    queryFn: () => api.get<ItemList<NotificationItem>>('/api/notifications', { query: { limit } }),
    staleTime: Infinity,
  });
}

export function useSystemInfo() {
  return useQuery({ queryKey: qk.systemInfo, queryFn: (): Promise<SystemInfo> => typed.get('/api/system/info') });
}
