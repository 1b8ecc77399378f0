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
  /** Settings present and the services the module needs reachable. */
  configured: boolean;
  /** Missing settings and unreachable services, one line each. */
  problems?: string[];
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
  problems?: string[];
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
// -- fleet: hosts and nodes (src/http/{hosts,nodes,census,enroll}.rs) -----------------------

export type NodeStatus = 'unknown' | 'healthy' | 'stale' | 'offline';
export type FuseStage = 'pending' | 'enrolled' | 'fused';
/** What a host still lacks on its way to being fused. */
export type FuseMissing = 'enrollment' | 'worker_registration' | 'docker_engine';

export interface FuseState {
  state: FuseStage | string;
  worker_registered: boolean;
  docker_answered: boolean;
  fused: boolean;
  missing: (FuseMissing | string)[];
}

export interface TokenInfo {
  expires_at: string | null;
  /** Seconds left; 0 once expired or used. */
  ttl_seconds: number;
  used: boolean;
}

export type Labels = Record<string, string>;

export interface Host {
  id: string;
  name: string;
  labels: Labels;
  fuse: FuseState;
  token: TokenInfo | null;
  hostname: string | null;
  agent_version: string | null;
  enrolled_at: string | null;
  fused_at: string | null;
  created_at: string;
  /** With `<ENROLL_TOKEN>` in place of the token, except right after it was minted. */
  install_snippet: string;
}

export interface HostWithToken extends Host {
  /** The one-time enroll token; only its hash is stored. */
  enroll_token: string;
}

export type EnrollReason =
  | 'accepted'
  | 'token_expired'
  | 'token_reused'
  | 'token_revoked'
  | 'bad_secret'
  | 'unknown_host'
  | 'rate_limited'
  | 'bad_request';

export interface EnrollAttempt {
  id: string;
  ts: string;
  source_ip: string | null;
  hostname: string | null;
  accepted: boolean;
  reason: EnrollReason | string;
}

export interface DiskSample {
  mount: string;
  device: string;
  fs_type: string;
  used_bytes: number;
  total_bytes: number;
}

export interface NodeMetrics {
  time: string;
  cpu_percent: number;
  cpu_cores: number;
  memory_used_bytes: number;
  memory_total_bytes: number;
  memory_available_bytes: number;
  memory_cgroup_limited: boolean;
  load: [number, number, number] | number[];
  uptime_secs: number;
  disks: DiskSample[];
  networks: { iface: string; rx_bytes: number; tx_bytes: number }[];
  docker_available: boolean;
  containers: { id: string; name: string; cpu_percent: number; memory_used_bytes: number; memory_limit_bytes: number }[];
}

export interface FleetNode {
  id: string;
  name: string;
  hostname: string | null;
  status: NodeStatus | string;
  /** The worker's command stream is open. */
  connected: boolean;
  labels: Labels;
  agent_version: string | null;
  proto_minor: number | null;
  hardware: Record<string, unknown>;
  fuse: FuseState;
  enrolled_at: string | null;
  last_seen_at: string | null;
  metrics: NodeMetrics | null;
}

export interface FleetStatus {
  total: number;
  by_status: Partial<Record<NodeStatus, number>> & Record<string, number>;
  cpu_cores: number;
  memory_total_bytes: number;
  memory_used_bytes: number;
  containers_running: number;
  worst: Record<string, { node_id: string; hostname: string; value: number }[]>;
}

export interface SecurityPolicy {
  allow_exec: boolean;
  allow_privileged: boolean;
  allowed_bind_prefixes: string[];
  allowed_images: string[];
}

export interface Census {
  id: string;
  node_id: string;
  ts: string;
  data?: Record<string, unknown>;
}

export interface CensusDiff {
  from: Census;
  to: Census;
  added: { path: string; value: unknown }[];
  removed: { path: string; value: unknown }[];
  changed: { path: string; from: unknown; to: unknown }[];
}

// -- Docker side (src/http/{containers,images,volumes,networks,endpoints}.rs) --------------

export interface EndpointRef {
  id: string;
  name: string;
  /** `local`, `agent` or `tcp`. */
  kind: string;
  node_id?: string | null;
}

/** An endpoint that could not be asked while gathering a list. */
export interface EndpointFailure {
  endpoint: string;
  error: string;
}

export interface PortInfo {
  container_port: number;
  host_port: number | null;
  host_ip: string | null;
  protocol: string;
}

export interface MountInfo {
  kind: string;
  source: string;
  target: string;
}

export interface Container {
  id: string;
  name: string;
  image: string;
  /** `created`, `running`, `paused`, `restarting`, `exited`, `removing`, `dead`. */
  state: string;
  /** Docker's human status, e.g. `Up 5 minutes`. */
  status: string;
  /** Unix seconds. */
  created: number;
  labels: Labels;
  ports: PortInfo[];
  networks: string[];
  mounts: MountInfo[];
  compose_project?: string | null;
  compose_service?: string | null;
  endpoint: EndpointRef;
  /** In lists: when the master last learnt its state (agent endpoints: the node's inventory). */
  fresh_at?: string;
  /** In lists: the node's worker is not connected, so the state may be out of date. */
  stale?: boolean;
}

export interface ContainerPage {
  items: Container[];
  total: number;
  limit: number;
  offset: number;
  errors: EndpointFailure[];
}

export type ContainerAction = 'start' | 'stop' | 'restart' | 'pause' | 'unpause' | 'kill';

export interface LogLine {
  /** `stdout` or `stderr`. */
  stream: string;
  ts: string | null;
  line: string;
}

export interface PortSpec {
  container_port: number;
  host_port?: number;
  protocol?: 'tcp' | 'udp';
}

export interface MountSpec {
  type: 'bind' | 'volume';
  source: string;
  target: string;
  read_only: boolean;
}

export interface CreateContainerBody {
  endpoint?: string;
  image: string;
  name?: string;
  command: string[];
  env: Record<string, string>;
  ports: PortSpec[];
  mounts: MountSpec[];
  networks: string[];
  restart_policy?: string;
  labels: Record<string, string>;
  start: boolean;
}

export interface DockerImage {
  id: string;
  tags: string[];
  size_bytes: number;
  /** Unix seconds. */
  created: number;
  /** Containers using it (-1 when the engine does not say). */
  containers: number;
  labels: Labels;
  endpoint: EndpointRef;
}

export interface PullProgress {
  layer: string | null;
  status: string;
  current: number | null;
  total: number | null;
}

export interface PullResult {
  image: string;
  endpoint: EndpointRef;
  layers: PullProgress[];
}

export interface PruneReport {
  deleted: string[];
  space_reclaimed_bytes: number;
}

export interface Volume {
  name: string;
  driver: string;
  mountpoint: string;
  labels: Labels;
  /** Names of the containers (running or not) that mount it. */
  used_by: string[];
  endpoint: EndpointRef;
}

export interface DockerNetwork {
  id: string;
  name: string;
  driver: string;
  scope: string;
  internal: boolean;
  labels: Labels;
  /** Names of attached containers. */
  containers: string[];
  endpoint: EndpointRef;
}

/** Lists gathered across endpoints. */
export interface GatheredList<T> {
  items: T[];
  errors: EndpointFailure[];
}

export interface NetworkTopology {
  nodes: ({ id: string; type: 'endpoint' | 'network' | 'container' | string; label: string } & Record<string, unknown>)[];
  edges: { from: string; to: string }[];
  errors: EndpointFailure[];
}

export interface DockerEndpoint extends EndpointRef {
  url: string | null;
  tls: boolean;
  /** `up` when the engine answered just now, else `down`. */
  status: 'up' | 'down' | string;
  docker_version: string | null;
  error: string | null;
  created_at: string;
}

// -- stacks (compose projects) -------------------------------------------------------------

/** `running`, `partial`, `stopped`, `stored` (no containers), `unknown` (endpoint unreachable). */
export type StackStatus = 'running' | 'partial' | 'stopped' | 'stored' | 'unknown';

export interface StackService {
  name: string;
  containers: number;
  running: number;
}

/** A stored (or adopted) stack, or a compose project discovered on an endpoint (`<endpoint>:<project>`). */
export interface Stack {
  id: string;
  name: string;
  endpoint: EndpointRef;
  status: StackStatus | string;
  discovered: boolean;
  adopted: boolean;
  services: StackService[];
  containers: number;
  running: number;
  working_dir: string | null;
  config_files: string[];
  /** Epoch milliseconds (stored stacks only). */
  created_at: number | null;
  updated_at: number | null;
}

export interface StackDetail extends Stack {
  /** Null for a discovered project (adopt it to read its file). */
  compose: string | null;
  /** Values masked (`********`) for viewers. */
  env: Record<string, string>;
  /** Only in the answer to an adoption. */
  adoption?: { reconstructed: boolean; note: string | null; working_dir: string | null; config_files: string[] };
}

export interface StackPage {
  items: Stack[];
  total: number;
  limit: number;
  offset: number;
  errors: EndpointFailure[];
}

export type StackAction = 'deploy' | 'stop' | 'remove';

export interface StackOutputLine {
  stream: string;
  line: string;
}

export interface StackActionResult {
  id: string;
  action: StackAction;
  ok: boolean;
  exit_code: number;
  command: string;
  status: string;
  output: StackOutputLine[];
}

export type OperationState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

/** A long-running operation (`/api/operations/{id}`), e.g. a stack action. */
export interface Operation<R = unknown> {
  id: string;
  kind: string;
  resource: string;
  state: OperationState;
  progress: number | null;
  message: string | null;
  /** A stack action's {@link StackActionResult}, also when it failed after running. */
  result: R | null;
  error: string | null;
  created_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  owner: string;
  lease_until: string;
}

/** `POST /api/stacks/{id}/{action}` answers `202` with the operation that runs it. */
export interface OperationAccepted<R = unknown> {
  operation: Operation<R>;
}
