// Wire types of the ContextBay REST API (shared/spec/API.md). Field names match the JSON.

export type Role = 'admin' | 'operator' | 'viewer';

export interface User {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  created_at: string;
  updated_at: string;
  last_login_at: string | null;
}

export interface Me extends User {
  auth_method: 'cookie' | 'jwt' | 'api_key';
}

export interface Health {
  status: string;
  version: string;
  setup_required: boolean;
}

export interface AuthResponse {
  user: User;
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface ItemList<T> {
  items: T[];
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
}

export interface CreatedApiKey extends ApiKey {
  /** The full secret; the server returns it exactly once. */
  key: string;
}

export interface ModuleInfo {
  name: string;
  enabled: boolean;
  configured: boolean;
  description: string;
}

/** A configuration key a module accepts (served by the master with its config). */
export interface ModuleField {
  key: string;
  kind: 'url' | 'text' | 'secret' | 'bool' | 'integer' | string;
  required: boolean;
  help: string;
}

export interface ModuleConfig {
  module: string;
  enabled: boolean;
  configured: boolean;
  /** Secrets come back as `"********"`; sending that back keeps the stored value. */
  config: Record<string, unknown>;
  fields?: ModuleField[];
}

/** How the master shows a stored secret. */
export const REDACTED = '********';

export interface Setting<V = unknown> {
  key: string;
  value: V;
  updated_at: string;
}

export interface AuditEntry {
  id: string | number;
  ts: string;
  actor: string;
  actor_id: string | null;
  action: string;
  target: string | null;
  result: 'success' | 'failure';
  status: number;
  request_id: string;
  source_ip: string | null;
}

/** An event as delivered by `/api/activity` and by `/api/ws`. */
export interface LiveEvent<P = Record<string, unknown>> {
  id: number;
  type: string;
  ts: string;
  payload: P;
}

export type NotificationLevel = 'info' | 'warning' | 'error';

export interface NotificationItem {
  id: string | number;
  ts: string;
  title: string;
  body: string;
  level: NotificationLevel;
}

export interface SystemInfo {
  version: string;
  uptime_seconds: number;
  database: string;
  data_dir: string;
  hostname: string;
  rss_bytes: number;
  ws_sessions: number;
  events_published: number;
  /** Served by the master beyond the brief's shape; optional. */
  pid?: number;
  event_subscribers?: number;
  last_event_id?: number;
}

/**
 * Docker-side resources (nodes, containers, …) are not specified in detail yet. The pages
 * normalise whatever list shape arrives (`[...]` or `{items: [...]}`) into this.
 */
export interface ResourceList {
  items: Record<string, unknown>[];
  total?: number;
  /** The endpoint is not served by this master yet (404): render the empty state. */
  unavailable?: boolean;
}
