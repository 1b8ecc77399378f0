// The alerting module's calls and shapes: alerts, alert rules and Alertmanager's silences. Lists
// answer the page object ({items, total, limit, offset}). Query keys: alerts under ['alerts']
// (the shared live reducer refreshes them on every alert.* event), rules and silences under
// ['alerting', …] (refreshed by this module's live handler).

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, type Query } from '../../api/client';
import type { components } from '../../api/schema';
import type { Page } from '../../api/types';

export const DEFAULT_LIMIT = 50;

type Schemas = components['schemas'];

/**
 * The document gives labels and annotations only as `object`: they are string maps (Prometheus
 * label sets), spelled out here; everything else is the generated schema.
 */
type StringMaps<T> = Omit<T, 'labels' | 'annotations'> & { labels: Record<string, string>; annotations: Record<string, string> };

export type Alert = StringMaps<Schemas['AlertView']>;
export type AlertRule = StringMaps<Schemas['AlertRuleView']>;
export type PrometheusApply = Schemas['PrometheusApply'];
export type AlertRuleApplied = AlertRule & { prometheus: PrometheusApply };
export type AlertRuleDeleted = Schemas['AlertRuleDeleted'];
/** A matcher as the editor holds it: both flags always set. */
export type Matcher = Required<Schemas['MatcherView']>;
export type Silence = Schemas['SilenceView'];

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
export const createRule = (body: AlertRuleBody) => api.post<AlertRuleApplied>('/api/alert-rules', body);
export const updateRule = (id: string, body: AlertRuleBody) =>
  api.put<AlertRuleApplied>(`/api/alert-rules/${encodeURIComponent(id)}`, body);
export const deleteRule = (id: string) => api.del<AlertRuleDeleted>(`/api/alert-rules/${encodeURIComponent(id)}`);
export const createSilence = (body: NewSilence) => api.post<Silence>('/api/alertmanager/silences', body);
export const expireSilence = (id: string) => api.del(`/api/alertmanager/silences/${encodeURIComponent(id)}`);
