// The alerting module's calls and shapes: alerts, alert rules and Alertmanager's silences. Lists
// answer the page object ({items, total, limit, offset}). Query keys: alerts under ['alerts']
// (the shared live reducer refreshes them on every alert.* event), rules and silences under
// ['alerting', …] (refreshed by this module's live handler).

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, type Query } from '../../api/client';
import type { Page } from '../../api/types';

export const DEFAULT_LIMIT = 50;

export interface Alert {
  id: string;
  name: string;
  severity: string;
  status: 'firing' | 'resolved' | string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  starts_at: string;
  ends_at: string | null;
  fingerprint: string;
  generator_url: string | null;
  rule_id: string | null;
  acknowledged: boolean;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
  received_at: string;
  updated_at: string;
}

export interface AlertRule {
  id: string;
  name: string;
  expr: string;
  for: string;
  severity: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  enabled: boolean;
  builtin: boolean;
  created_at: string;
  updated_at: string;
  updated_by: string | null;
}

/** What the rule editor sends (create: all; update: the same fields, replacing the rule's). */
export interface AlertRuleBody {
  name: string;
  expr: string;
  for: string;
  severity: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  enabled: boolean;
}

export interface PrometheusApply {
  reloaded?: boolean;
  refused?: boolean;
  error?: string | null;
  [k: string]: unknown;
}

export interface Matcher {
  name: string;
  value: string;
  is_regex: boolean;
  is_equal: boolean;
}

export interface Silence {
  id: string;
  state: 'active' | 'pending' | 'expired' | string;
  matchers: Matcher[];
  starts_at: string;
  ends_at: string;
  created_by: string;
  comment: string;
  updated_at: string;
}

export interface NewSilence {
  matchers: Matcher[];
  duration?: string;
  ends_at?: string;
  comment: string;
}

export const alertingKeys = {
  alerts: (p: Query) => ['alerts', 'list', p] as const,
  rules: (p: Query) => ['alerting', 'rules', p] as const,
  silences: (p: Query) => ['alerting', 'silences', p] as const,
  alertsAll: ['alerts'] as const,
  rulesAll: ['alerting', 'rules'] as const,
  silencesAll: ['alerting', 'silences'] as const,
};

/**
 * Paging parameters of the page object, left out at their defaults (limit 50, offset 0): the
 * request for the first page is then the same whether or not the list is paginated.
 */
export function pageQuery(p: { limit: number; offset: number }): Query {
  return { limit: p.limit === DEFAULT_LIMIT ? undefined : p.limit, offset: p.offset > 0 ? p.offset : undefined };
}

export function useAlerts(p: Query) {
  return useQuery({
    queryKey: alertingKeys.alerts(p),
    queryFn: ({ signal }) => api.get<Page<Alert>>('/api/alerts', { query: p, signal }),
    placeholderData: keepPreviousData,
  });
}

export function useAlertRules(p: Query) {
  return useQuery({
    queryKey: alertingKeys.rules(p),
    queryFn: ({ signal }) => api.get<Page<AlertRule>>('/api/alert-rules', { query: p, signal }),
    placeholderData: keepPreviousData,
  });
}

export function useSilences(p: Query) {
  return useQuery({
    queryKey: alertingKeys.silences(p),
    queryFn: ({ signal }) => api.get<Page<Silence>>('/api/alertmanager/silences', { query: p, signal }),
    placeholderData: keepPreviousData,
  });
}

export const acknowledgeAlert = (id: string) => api.post<Alert>(`/api/alerts/${encodeURIComponent(id)}/acknowledge`);
export const resolveAlert = (id: string) => api.post<Alert>(`/api/alerts/${encodeURIComponent(id)}/resolve`);
export const createRule = (body: AlertRuleBody) => api.post<AlertRule & { prometheus: PrometheusApply }>('/api/alert-rules', body);
export const updateRule = (id: string, body: AlertRuleBody) =>
  api.put<AlertRule & { prometheus: PrometheusApply }>(`/api/alert-rules/${encodeURIComponent(id)}`, body);
export const deleteRule = (id: string) => api.del<{ id: string; name: string; prometheus: PrometheusApply }>(`/api/alert-rules/${encodeURIComponent(id)}`);
export const createSilence = (body: NewSilence) => api.post<Silence>('/api/alertmanager/silences', body);
export const expireSilence = (id: string) => api.del(`/api/alertmanager/silences/${encodeURIComponent(id)}`);
