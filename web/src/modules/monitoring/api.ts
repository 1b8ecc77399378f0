// The monitoring module's calls: the PromQL proxy, Prometheus' targets and status, Grafana's
// dashboards. Query keys start with 'monitoring' so the module's live handlers reach them all.

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, isApiError } from '../../api/client';
import type { components } from '../../api/schema';
import type { PromAnswer } from './promql';

export const monitoringKeys = {
  all: ['monitoring'] as const,
  range: (expr: string, start: number, end: number, step: number) => ['monitoring', 'range', expr, start, end, step] as const,
  instant: (expr: string, time: number) => ['monitoring', 'instant', expr, time] as const,
  labelValues: (name: string) => ['monitoring', 'label-values', name] as const,
  targets: ['monitoring', 'targets'] as const,
  status: ['monitoring', 'status'] as const,
  grafana: ['monitoring', 'grafana-dashboards'] as const,
};

export function queryRange(expr: string, start: number, end: number, step: number, signal?: AbortSignal): Promise<PromAnswer> {
  return api.get<PromAnswer>('/api/v1/metrics/query_range', { query: { query: expr, start, end, step }, signal });
}

export function queryInstant(expr: string, time: number, signal?: AbortSignal): Promise<PromAnswer> {
  return api.get<PromAnswer>('/api/v1/metrics/query', { query: { query: expr, time }, signal });
}

export function useRangeQuery(expr: string, start: number, end: number, step: number, enabled = true) {
  return useQuery({
    queryKey: monitoringKeys.range(expr, start, end, step),
    queryFn: ({ signal }) => queryRange(expr, start, end, step, signal),
    enabled: enabled && expr.trim() !== '',
    placeholderData: keepPreviousData,
    retry: false,
  });
}

export function useLabelValues(name: string) {
  return useQuery({
    queryKey: monitoringKeys.labelValues(name),
    queryFn: ({ signal }) =>
      api.get<{ status: string; data?: string[] }>(`/api/v1/metrics/label/${encodeURIComponent(name)}/values`, { signal }),
    select: (a) => a.data ?? [],
    staleTime: 30_000,
  });
}

/** One entry of Prometheus' `activeTargets`. */
export interface PromTarget {
  labels: Record<string, string>;
  discoveredLabels?: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  globalUrl?: string;
  health: 'up' | 'down' | 'unknown';
  lastScrape: string;
  lastScrapeDuration: number;
  lastError: string;
}

export function useTargets() {
  return useQuery({
    queryKey: monitoringKeys.targets,
    queryFn: ({ signal }) =>
      api.get<{ items: { target: PromTarget }[] }>('/api/prometheus/targets', {
        query: { state: 'active', limit: 500 },
        signal,
      }),
    // Each item carries Prometheus' own target object (`target`), which this page shows.
    select: (d) => d.items.map((item) => item.target),
    refetchInterval: 5_000,
  });
}

/**
 * Prometheus' build and runtime information are passed on as it gives them (`object` in the
 * document). `health` is spelled out: in the document it refers to the schema `Health`, which is
 * the name of two types (/api/health's answer and a service probe's result) and resolves to the
 * wrong one.
 */
export type PrometheusStatus = Omit<components['schemas']['PrometheusStatus'], 'build' | 'runtime' | 'health'> & {
  health: { service: string; healthy: boolean; detail?: string; latency_ms: number };
  build?: { version?: string; [k: string]: unknown } | null;
  runtime?: { reloadConfigSuccess?: boolean; lastConfigTime?: string; [k: string]: unknown } | null;
};

export function usePrometheusStatus() {
  return useQuery({
    queryKey: monitoringKeys.status,
    queryFn: ({ signal }) => api.get<PrometheusStatus>('/api/prometheus/status', { signal }),
    refetchInterval: 15_000,
  });
}

export type GrafanaDashboard = components['schemas']['DashboardView'];

/**
 * Grafana's dashboards, or `null` while Grafana is not configured (the route answers 503
 * "grafana is not configured") or the module is off: the links are hidden then.
 */
export function useGrafanaDashboards() {
  return useQuery({
    queryKey: monitoringKeys.grafana,
    queryFn: async ({ signal }): Promise<GrafanaDashboard[] | null> => {
      try {
        const list = await api.get<{ items: GrafanaDashboard[] }>('/api/grafana/dashboards', { query: { limit: 50 }, signal });
        return list.items;
      } catch (e) {
        if (isApiError(e) && (e.status === 404 || (e.status === 503 && e.message.startsWith('grafana is not configured')))) return null;
        throw e;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
}
