// Names for the API's wire types. They are the schemas of the generated OpenAPI document
// (./schema.d.ts, from `npm run api:gen`), not written by hand; only what the document leaves
// generic (the page object, live events, settings by value type) is spelled out here.

import type { components } from './schema';

type Schemas = components['schemas'];

export type Role = Schemas['Role'];

export type User = Schemas['UserView'];

export type Me = Schemas['Me'];

export type Health = Schemas['Health'];

export interface AuthResponse {
  user: User;
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/**
 * The page object every list endpoint answers (`limit` 1–500, default 50; `offset` ≥ 0). The one
 * place it is spelled out: the document names one schema per list.
 */
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** A page of a list gathered from several endpoints: also the endpoints that did not answer. */
export interface GatheredPage<T> extends Page<T> {
  errors: EndpointFailure[];
}

/** Parameters of a paginated request. */
export interface PageParams {
  limit?: number;
  offset?: number;
}

export interface ItemList<T> {
  items: T[];
}

export type ApiKey = Schemas['ApiKeyView'];

export type CreatedApiKey = Schemas['CreatedApiKey'];

export type ModuleInfo = Schemas['ModuleStatus'];

export type ModuleField = Schemas['FieldView'];

export type ModuleConfig = Schemas['ModuleConfigView'];

/** How the master shows a stored secret. */
export const REDACTED = '********';

export interface Setting<V = unknown> {
  key: string;
  value: V;
  updated_at: string;
}

export type AuditEntry = Schemas['AuditView'];

/** An event as delivered by `/api/activity` and by `/api/ws`. */
export interface LiveEvent<P = Record<string, unknown>> {
  id: number;
  type: string;
  ts: string;
  payload: P;
}

export type NotificationLevel = 'info' | 'warning' | 'error';

export type NotificationItem = Schemas['NotificationView'];

export type SystemInfo = Schemas['SystemInfo'];

/**
 * Docker-side resources (nodes, containers, …) are not specified in detail yet. The pages
 * normalise whatever list shape arrives (`[...]` or `{items: [...]}`) into this.
 */
// -- fleet: hosts and nodes (src/http/{hosts,nodes,census,enroll}.rs) -----------------------

export type NodeStatus = 'unknown' | 'healthy' | 'stale' | 'offline';
export type FuseStage = 'pending' | 'enrolled' | 'fused';
/** What a host still lacks on its way to being fused. */
export type FuseMissing = 'enrollment' | 'worker_registration' | 'docker_engine';

export type FuseState = Schemas['FuseState'];

export type TokenInfo = Schemas['TokenInfo'];

export type Labels = Record<string, string>;

/** `labels` is only `object` in the document; they are string → string. */
export type Host = Omit<Schemas['HostView'], 'labels'> & { labels: Labels };

export type HostWithToken = Host & { enroll_token: string };

export type EnrollReason =
  | 'accepted'
  | 'token_expired'
  | 'token_reused'
  | 'token_revoked'
  | 'bad_secret'
  | 'unknown_host'
  | 'rate_limited'
  | 'bad_request';

export type EnrollAttempt = Schemas['AttemptView'];

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

/** `labels` and `metrics` are only `object` in the document: their shapes are spelled out here. */
export type FleetNode = Omit<Schemas['NodeView'], 'labels' | 'metrics'> & { labels: Labels; metrics?: NodeMetrics | null };

/** `by_status` and `worst` are only `object` in the document. */
export type FleetStatus = Omit<Schemas['FleetStatus'], 'by_status' | 'worst'> & {
  by_status: Partial<Record<NodeStatus, number>> & Record<string, number>;
  worst: Record<string, { node_id: string; hostname: string; value: number }[]>;
};

export type SecurityPolicy = Schemas['SecurityPolicy'];

export type Census = Schemas['CensusView'];

export type CensusDiff = Schemas['CensusDiff'];

// -- Docker side (src/http/{containers,images,volumes,networks,endpoints}.rs) --------------

export type EndpointRef = Schemas['EndpointRef'];

/** An endpoint that could not be asked while gathering a list. */
export interface EndpointFailure {
  endpoint: string;
  error: string;
}

export type PortInfo = Schemas['PortInfo'];

export type MountInfo = Schemas['MountInfo'];

export type Container = Schemas['ContainerView'];

export type ContainerPage = GatheredPage<Container>;

export type ContainerAction = 'start' | 'stop' | 'restart' | 'pause' | 'unpause' | 'kill';

export type LogLine = Schemas['LogLine'];

export type PortSpec = Schemas['PortSpec'];

export type MountSpec = Schemas['MountSpec'];

export type CreateContainerBody = Schemas['CreateContainer'];

export type DockerImage = Schemas['ImageView'];

export type PullProgress = Schemas['PullProgress'];

export type PullResult = Schemas['PullResult'];

export type PruneReport = Schemas['PruneReport'];

export type Volume = Schemas['VolumeView'];

export type DockerNetwork = Schemas['NetworkView'];


/** The document gives nodes, edges and errors only as `object`s; their shapes are spelled out here. */
export interface NetworkTopology {
  nodes: ({ id: string; type: 'endpoint' | 'network' | 'container' | string; label: string } & Record<string, unknown>)[];
  edges: { from: string; to: string }[];
  errors: EndpointFailure[];
}

export type DockerEndpoint = Schemas['EndpointView'];

// -- stacks (compose projects) -------------------------------------------------------------

/** `running`, `partial`, `stopped`, `stored` (no containers), `unknown` (endpoint unreachable). */
export type StackStatus = 'running' | 'partial' | 'stopped' | 'stored' | 'unknown';

export type StackService = Schemas['StackServiceView'];

export type Stack = Schemas['StackView'];

/** `adoption` (only in the answer to `POST /api/stacks/adopt`) is not in the document yet. */
export type StackDetail = Schemas['StackDetail'] & {
  adoption?: { reconstructed: boolean; note: string | null; working_dir: string | null; config_files: string[] };
};

export type StackPage = GatheredPage<Stack>;

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
