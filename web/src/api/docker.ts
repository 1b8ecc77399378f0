// Queries of the Docker side: containers, images, volumes, networks and endpoints, gathered by
// the master across every endpoint. Live events keep them current (live/reducer.ts).

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useCan } from '../auth/session';
import { api, type Query } from './client';
import { DEFAULT_LIMIT } from '../lib/table';
import { qk, type ContainerListParams, type EndpointFilter } from './keys';
import type {
  Container,
  ContainerPage,
  DockerEndpoint,
  DockerImage,
  DockerNetwork,
  FleetNode,
  GatheredPage,
  ItemList,
  LogLine,
  NetworkTopology,
  Page,
  Volume,
} from './types';

const enc = encodeURIComponent;

/** A gathered list's query: `limit`/`offset` only when they differ from the API's defaults. */
export function gatheredQuery(f: EndpointFilter): Query {
  const q: Query = { endpoint: f.endpoint };
  if (f.limit !== undefined && f.limit !== DEFAULT_LIMIT) q.limit = f.limit;
  if (f.offset) q.offset = f.offset;
  return q;
}

export function useContainerList(p: ContainerListParams) {
  return useQuery({
    queryKey: qk.containerList(p),
    queryFn: ({ signal }) => api.get<ContainerPage>('/api/containers', { query: { ...p }, signal }),
    placeholderData: keepPreviousData,
  });
}

export function useContainer(endpoint: string, id: string) {
  return useQuery({
    queryKey: qk.container(endpoint, id),
    queryFn: ({ signal }) => api.get<Container>(`/api/containers/${enc(id)}`, { query: { endpoint }, signal }),
  });
}

export function useContainerInspect(endpoint: string, id: string, enabled = true) {
  return useQuery({
    queryKey: qk.containerInspect(endpoint, id),
    enabled,
    queryFn: ({ signal }) => api.get<Record<string, unknown>>(`/api/containers/${enc(id)}/inspect`, { query: { endpoint }, signal }),
  });
}

/** One-shot logs (the last `tail` lines); refreshed by hand. */
export function useContainerLogs(endpoint: string, id: string, tail: number, enabled = true) {
  return useQuery({
    queryKey: qk.containerLogs(endpoint, id, tail),
    enabled,
    staleTime: Infinity,
    queryFn: ({ signal }) =>
      api.get<ItemList<LogLine>>(`/api/containers/${enc(id)}/logs`, { query: { endpoint, tail, timestamps: true }, signal }),
  });
}

/** A page of the list (`limit`/`offset`; without them the API's default first page). */
export function useImages(f: EndpointFilter) {
  return useQuery({
    queryKey: qk.imageList(f),
    queryFn: ({ signal }) => api.get<GatheredPage<DockerImage>>('/api/images', { query: gatheredQuery(f), signal }),
    placeholderData: keepPreviousData,
  });
}

/** A page of the list (`limit`/`offset`; without them the API's default first page). */
export function useVolumes(f: EndpointFilter) {
  return useQuery({
    queryKey: qk.volumeList(f),
    queryFn: ({ signal }) => api.get<GatheredPage<Volume>>('/api/volumes', { query: gatheredQuery(f), signal }),
    placeholderData: keepPreviousData,
  });
}

/** A page of the list (`limit`/`offset`; without them the API's default first page). */
export function useNetworks(f: EndpointFilter) {
  return useQuery({
    queryKey: qk.networkList(f),
    queryFn: ({ signal }) => api.get<GatheredPage<DockerNetwork>>('/api/networks', { query: gatheredQuery(f), signal }),
    placeholderData: keepPreviousData,
  });
}

export function useNetworkTopology(endpoint: string) {
  return useQuery({
    queryKey: qk.networkTopology({ endpoint }),
    queryFn: ({ signal }) => api.get<NetworkTopology>('/api/networks/topology', { query: { endpoint }, signal }),
  });
}

export function useNetworkInspect(endpoint: string, id: string) {
  return useQuery({
    queryKey: qk.networkInspect(endpoint, id),
    queryFn: ({ signal }) => api.get<Record<string, unknown>>(`/api/networks/${enc(id)}/inspect`, { query: { endpoint }, signal }),
  });
}

/** Admin only on the API. */
export function useEndpoints(enabled = true) {
  return useQuery({
    queryKey: qk.endpoints,
    enabled,
    // Listing probes every engine (and publishes endpoint.status): not on every mount.
    staleTime: 60_000,
    queryFn: ({ signal }) => api.get<ItemList<DockerEndpoint>>('/api/endpoints', { signal }),
  });
}

export interface EndpointOption {
  id: string;
  label: string;
}

/**
 * Endpoints to choose from in filters and forms. Admins get the master's list; for others (who
 * may not list endpoints) the fused nodes stand in (an agent endpoint has its node's id), plus
 * the master's own engine.
 */
export function useEndpointOptions(): { options: EndpointOption[]; isPending: boolean } {
  const isAdmin = useCan('admin');
  const endpoints = useEndpoints(isAdmin);
  const nodes = useQuery({
    queryKey: qk.nodeEndpointOptions,
    enabled: !isAdmin,
    staleTime: 5 * 60_000,
    queryFn: ({ signal }) => api.get<Page<FleetNode>>('/api/nodes', { query: { limit: 500 }, signal }),
  });
  if (isAdmin) {
    return {
      options: (endpoints.data?.items ?? []).map((e) => ({ id: e.id, label: `${e.name} (${e.kind})` })),
      isPending: endpoints.isPending,
    };
  }
  const fused = (nodes.data?.items ?? []).filter((n) => n.fuse.fused);
  return {
    options: [{ id: 'local', label: 'local (master)' }, ...fused.map((n) => ({ id: n.id, label: `${n.name} (agent)` }))],
    isPending: nodes.isPending,
  };
}
