// Pure helpers of the alerting pages: the rule editor's form, silences prefilled from an alert,
// and which form field a server error is about. Unit-tested in alerting.test.ts.

import { ApiError, isApiError } from '../../api/client';
import { parseKeyValueLines } from '../../lib/containers';
import type { Alert, AlertRule, AlertRuleBody, Matcher } from './api';

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export const SEVERITY_TONE: Record<string, 'bad' | 'warn' | 'info' | 'neutral'> = { critical: 'bad', warning: 'warn', info: 'info' };

/** A Prometheus label name (ContextBay holds alert names to it too). */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Prometheus durations: 30s, 5m, 1h30m, 2d, 500ms. */
export const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

export interface RuleForm {
  name: string;
  expr: string;
  for: string;
  severity: string;
  labels: string;
  annotations: string;
  enabled: boolean;
}

export type RuleField = Exclude<keyof RuleForm, 'enabled'>;
export type FieldErrors<F extends string> = Partial<Record<F, string>>;

const lines = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');

export function ruleForm(rule?: AlertRule | null): RuleForm {
  if (!rule) return { name: '', expr: '', for: '1m', severity: 'warning', labels: '', annotations: 'summary=', enabled: true };
  return {
    name: rule.name,
    expr: rule.expr,
    for: rule.for,
    severity: rule.severity,
    labels: lines(rule.labels),
    annotations: lines(rule.annotations),
    enabled: rule.enabled,
  };
}

/** The request body, or the problems by field (what can be checked here; the server checks the rest). */
export function ruleBody(f: RuleForm): { body: AlertRuleBody | null; errors: FieldErrors<RuleField> } {
  const errors: FieldErrors<RuleField> = {};
  const name = f.name.trim();
  if (!name) errors.name = 'a name is required';
  else if (!LABEL_NAME.test(name)) errors.name = 'letters, digits and _ only, not starting with a digit';
  const expr = f.expr.trim();
  if (!expr) errors.expr = 'a PromQL expression is required';
  const forDuration = f.for.trim() || '0s';
  if (!DURATION.test(forDuration)) errors.for = 'a duration like 30s, 5m or 1h30m';
  const labels = parseKeyValueLines(f.labels, 'line');
  if (labels.errors.length) errors.labels = labels.errors.join('; ');
  const annotations = parseKeyValueLines(f.annotations, 'line');
  // An annotation left empty (the form's `summary=` hint) is not sent.
  for (const [k, v] of Object.entries(annotations.values)) if (v === '') delete annotations.values[k];
  if (annotations.errors.length) errors.annotations = annotations.errors.join('; ');
  if (Object.keys(errors).length) return { body: null, errors };
  return {
    body: { name, expr, for: forDuration, severity: f.severity, labels: labels.values, annotations: annotations.values, enabled: f.enabled },
    errors,
  };
}

/**
 * The form field a server error is about: the error body's `field` (its first path segment,
 * so `labels.team` → `labels`), else the field the message starts with in quotes (`'expr' is
 * not valid PromQL: …`). `null` for an error about the whole request.
 */
export function errorField<F extends string>(e: unknown, fields: readonly F[]): F | null {
  const candidates: string[] = [];
  if (isApiError(e) || (e && typeof e === 'object')) {
    const field = (e as { field?: unknown }).field;
    if (typeof field === 'string' && field) candidates.push(field.split(/[.[]/)[0] ?? field);
  }
  const message = e instanceof Error ? e.message : '';
  const m = /^'([a-zA-Z_]+)[.'[]/.exec(message) ?? /^([a-z_]+)(?:\[\d+\])?[.:]/.exec(message);
  if (m?.[1]) candidates.push(m[1]);
  for (const c of candidates) if ((fields as readonly string[]).includes(c)) return c as F;
  return null;
}

/** `name="value"` the way Alertmanager prints a matcher. */
export function matcherText(m: Pick<Matcher, 'name' | 'value'> & Partial<Matcher>): string {
  // Alertmanager's defaults: an exact, positive match.
  const regex = m.is_regex ?? false;
  const equal = m.is_equal ?? true;
  const op = regex ? (equal ? '=~' : '!~') : equal ? '=' : '!=';
  return `${m.name}${op}"${m.value}"`;
}

/**
 * A silence's matchers for one alert: its identifying labels, exact matches, `alertname` first.
 * Prometheus' own `cb_rule_id` stays in (it ties the alert to its rule).
 */
export function matchersForAlert(alert: Pick<Alert, 'name' | 'labels'>): Matcher[] {
  const labels: Record<string, string> = { alertname: alert.name, ...alert.labels };
  return Object.entries(labels)
    .filter(([k, v]) => LABEL_NAME.test(k) && typeof v === 'string')
    .sort(([a], [b]) => (a === 'alertname' ? -1 : b === 'alertname' ? 1 : a.localeCompare(b)))
    .map(([name, value]) => ({ name, value, is_regex: false, is_equal: true }));
}

export interface SilenceForm {
  matchers: Matcher[];
  duration: string;
  comment: string;
}

export type SilenceField = 'matchers' | 'duration' | 'comment';

export function silenceBody(f: SilenceForm): { body: { matchers: Matcher[]; duration: string; comment: string } | null; errors: FieldErrors<SilenceField> } {
  const errors: FieldErrors<SilenceField> = {};
  const matchers = f.matchers.filter((m) => m.name.trim() !== '' || m.value !== '');
  if (matchers.length === 0) errors.matchers = 'at least one matcher is required';
  else {
    const bad = matchers.findIndex((m) => !LABEL_NAME.test(m.name.trim()));
    if (bad >= 0) errors.matchers = `matcher ${bad + 1}: the name must be a label name (letters, digits, _)`;
  }
  const duration = f.duration.trim();
  if (!DURATION.test(duration)) errors.duration = 'a duration like 30m, 2h or 1d';
  const comment = f.comment.trim();
  if (!comment) errors.comment = 'say why (Alertmanager requires a comment)';
  if (Object.keys(errors).length) return { body: null, errors };
  return { body: { matchers: matchers.map((m) => ({ ...m, name: m.name.trim() })), duration, comment }, errors };
}

/**
 * The error with its `field` filled from the message when the server did not name one (the
 * alerting module words its validation errors `'expr' is not valid PromQL: …`), so the form
 * pattern can show it on that field. Other errors pass unchanged.
 */
export function withField<F extends string>(e: unknown, fields: readonly F[]): unknown {
  if (!isApiError(e) || e.field) return e;
  const field = errorField(e, fields);
  return field ? new ApiError(e.status, e.message, e.code, e.requestId, e.retryAfter, field) : e;
}
