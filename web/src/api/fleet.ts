// Queries of the fleet side: nodes, hosts, censuses. Live events keep them current
// (live/reducer.ts); metrics are the exception: the master does not publish them as events, so
// the queries that show them refetch on an interval while the page is visible.

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect } from 'react';
import { nodeHistory } from '../lib/metricsHistory';
import { api, isApiError } from './client';
import { qk, type NodeListParams, type PageParams } from './keys';
import type { Census, CensusDiff, EnrollAttempt, FleetNode, FleetStatus, Host, ItemList, Page, SecurityPolicy } from './types';

/** How often pages that show node metrics refetch them (workers sample about as often). */
export const METRICS_REFRESH_MS = 10_000;

const enc = encodeURIComponent;

function recordAll(nodes: readonly FleetNode[] | undefined): void {
  for (const n of nodes ?? []) nodeHistory.record(n.id, n.metrics);
}

export function useFleetStatus() {
  return useQuery({
    queryKey: qk.fleetStatus,
    queryFn: ({ signal }) => api.get<FleetStatus>('/api/nodes/fleet-status', { signal }),
    refetchInterval: METRICS_REFRESH_MS,
  });
}

export function useNodeList(p: NodeListParams) {
  const q = useQuery({
    queryKey: qk.nodeList(p),
    queryFn: ({ signal }) => api.get<Page<FleetNode>>('/api/nodes', { query: { ...p }, signal }),
    placeholderData: keepPreviousData,
    refetchInterval: METRICS_REFRESH_MS,
  });
  useEffect(() => recordAll(q.data?.items), [q.data]);
  return q;
}

export function useNode(id: string) {
  const q = useQuery({
    queryKey: qk.node(id),
    queryFn: ({ signal }) => api.get<FleetNode>(`/api/nodes/${enc(id)}`, { signal }),
    refetchInterval: METRICS_REFRESH_MS,
  });
  useEffect(() => {
    if (q.data) recordAll([q.data]);
  }, [q.data]);
  return q;
}

export function useNodePolicy(id: string) {
  return useQuery({
    queryKey: qk.nodePolicy(id),
    queryFn: ({ signal }) => api.get<SecurityPolicy>(`/api/nodes/${enc(id)}/security-policy`, { signal }),
    staleTime: Infinity,
  });
}

/** The latest census, or `null` when none was taken yet (404). */
export function useNodeCensus(id: string) {
  return useQuery({
    queryKey: qk.nodeCensus(id),
    staleTime: Infinity,
    queryFn: async ({ signal }) => {
      try {
        return await api.get<Census>(`/api/nodes/${enc(id)}/census`, { signal });
      } catch (e) {
        if (isApiError(e) && e.status === 404) return null;
        throw e;
      }
    },
  });
}

/** The latest census against the previous one, or `null` when there are fewer than two. */
export function useNodeCensusDiff(id: string, enabled = true) {
  return useQuery({
    queryKey: qk.nodeCensusDiff(id),
    enabled,
    staleTime: Infinity,
    queryFn: async ({ signal }) => {
      try {
        return await api.get<CensusDiff>(`/api/nodes/${enc(id)}/census/diff`, { signal });
      } catch (e) {
        if (isApiError(e) && e.status === 404) return null;
        throw e;
      }
    },
  });
}

export function useHostList(p: PageParams) {
  return useQuery({
    queryKey: qk.hostList(p),
    queryFn: ({ signal }) => api.get<Page<Host>>('/api/hosts', { query: { ...p }, signal }),
    placeholderData: keepPreviousData,
    staleTime: Infinity,
  });
}

export function useHost(id: string) {
  return useQuery({
    queryKey: qk.host(id),
    queryFn: ({ signal }) => api.get<Host>(`/api/hosts/${enc(id)}`, { signal }),
    staleTime: Infinity,
  });
}

export function useHostAttempts(id: string) {
  return useQuery({
    queryKey: qk.hostAttempts(id),
    queryFn: ({ signal }) => api.get<ItemList<EnrollAttempt>>(`/api/hosts/${enc(id)}/enroll-attempts`, { signal }),
    staleTime: Infinity,
  });
}

// -- one-time enroll tokens -------------------------------------------------------------------
// The token comes back once, from create or regenerate. It is kept in memory only (never in the
// query cache, the URL or history state) for the host page to show until it is dismissed.

const oneTimeTokens = new Map<string, { token: string; snippet: string }>();

export function rememberToken(hostId: string, token: string, snippet: string): void {
  oneTimeTokens.set(hostId, { token, snippet });
}

export function takeToken(hostId: string): { token: string; snippet: string } | null {
  return oneTimeTokens.get(hostId) ?? null;
}

export function forgetToken(hostId: string): void {
  oneTimeTokens.delete(hostId);
}
