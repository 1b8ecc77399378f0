// Applies live events from `/api/ws` to the react-query cache, so that every view updates
// without polling. The rule of thumb:
//  - when the event carries the whole new state of one item that is already in a cached list,
//    patch it in place (instant, no request);
//  - when it changes what a list contains or how it is ordered/paginated (creations), or carries
//    too little to patch, invalidate the affected queries: react-query refetches the ones on
//    screen and marks the others stale;
//  - every event is also prepended to the cached activity feed.
//
// Payloads are read as the event catalogue declares them (`x-events` in the OpenAPI document,
// generated into api/events.gen.ts): a payload that does not have its declared shape is not
// guessed at; the affected queries are refetched instead. Fleet and Docker events follow src/http/*.rs and the worker's event mapping
// (src/grpc/node_service.rs): `container.update` has one payload, from the master's own engine
// and from workers alike (src/docker/events.rs: {id, endpoint, node_id, type, action, state,
// status, name, image, attributes, time, seq}); its `action` is mapped to an effect by
// lib/dockerEvents.ts. Lists gathered across
// every endpoint are refetched at most once per burst (invalidateSoon).

import type { QueryClient, QueryKey } from '@tanstack/react-query';
import { qk } from '../api/keys';
import type {
  ApiKey,
  Container,
  ContainerPage,
  DockerEndpoint,
  DockerNetwork,
  EndpointRef,
  FleetNode,
  FleetStatus,
  GatheredPage,
  Host,
  ItemList,
  Labels,
  LiveEvent,
  Me,
  ModuleInfo,
  NotificationItem,
  NotificationLevel,
  Page,
  Role,
  SecurityPolicy,
  Setting,
  User,
  Volume,
} from '../api/types';
import type { EventKind, EventPayloads } from '../api/events.gen';
import { containerEventEffect, stateAfterAction } from '../lib/dockerEvents';

type Obj = Record<string, unknown>;

const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];
const DEFAULT_FEED_LIMIT = 100;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

type Primitive = 'string' | 'boolean' | 'number';

/**
 * The payload as its kind declares it, or null when a required field is missing or of another
 * type (checked for the fields listed: those the handler relies on).
 */
function declared<K extends EventKind>(payload: Obj, _kind: K, fields: Partial<Record<keyof EventPayloads[K], Primitive>>): EventPayloads[K] | null {
  for (const [name, type] of Object.entries(fields) as [string, Primitive][]) {
    if (typeof payload[name] !== type) return null;
  }
  return payload as unknown as EventPayloads[K];
}

function idOf(payload: Obj, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = str(payload[n]);
    if (v) return v;
  }
  return undefined;
}

/** Runs `fn` on the data of every cached query under `prefix` that has data. */
function updateAll<T>(qc: QueryClient, prefix: QueryKey, fn: (old: T, key: QueryKey) => T): void {
  for (const q of qc.getQueryCache().findAll({ queryKey: prefix })) {
    const old = q.state.data as T | undefined;
    if (old === undefined) continue;
    const next = fn(old, q.queryKey);
    if (next !== old) qc.setQueryData(q.queryKey, next);
  }
}

function invalidate(qc: QueryClient, key: QueryKey): void {
  void qc.invalidateQueries({ queryKey: key });
}

// -- users --------------------------------------------------------------------------------

function onUserUpdated(qc: QueryClient, payload: Obj): void {
  const p = declared(payload, 'user.updated', { id: 'string', username: 'string', role: 'string', disabled: 'boolean' });
  if (!p || !ROLES.includes(p.role)) {
    invalidate(qc, qk.users);
    invalidate(qc, qk.me);
    return;
  }
  const { id } = p;
  const patch: Partial<User> = { username: p.username, role: p.role, disabled: p.disabled };
  updateAll<Page<User>>(qc, qk.userLists, (old) => {
    if (!old.items.some((u) => u.id === id)) return old;
    return { ...old, items: old.items.map((u) => (u.id === id ? { ...u, ...patch } : u)) };
  });
  updateAll<User>(qc, qk.user(id), (old) => ({ ...old, ...patch }));

  const me = qc.getQueryData<Me>(qk.me);
  if (me && me.id === id) {
    qc.setQueryData<Me>(qk.me, { ...me, ...patch, auth_method: me.auth_method });
    // A disabled account loses its session; let the server say so.
    if (patch.disabled) invalidate(qc, qk.me);
  }
}

function onUserDeleted(qc: QueryClient, payload: Obj): void {
  const id = declared(payload, 'user.deleted', { id: 'string' })?.id;
  if (id) {
    updateAll<Page<User>>(qc, qk.userLists, (old) => {
      if (!old.items.some((u) => u.id === id)) return old;
      return { ...old, items: old.items.filter((u) => u.id !== id), total: Math.max(0, old.total - 1) };
    });
    qc.removeQueries({ queryKey: qk.user(id) });
    const me = qc.getQueryData<Me>(qk.me);
    if (me && me.id === id) invalidate(qc, qk.me);
  }
  // Pages after the removed row shift by one.
  invalidate(qc, qk.userLists);
}

// -- API keys -----------------------------------------------------------------------------

function onApiKeyRevoked(qc: QueryClient, payload: Obj): void {
  const id = declared(payload, 'apikey.revoked', { id: 'string' })?.id;
  if (!id) {
    invalidate(qc, qk.apiKeys);
    return;
  }
  updateAll<Partial<Page<ApiKey>> & ItemList<ApiKey>>(qc, qk.apiKeys, (old) =>
    old.items.some((k) => k.id === id)
      ? { ...old, items: old.items.filter((k) => k.id !== id), ...(typeof old.total === 'number' ? { total: Math.max(0, old.total - 1) } : {}) }
      : old,
  );
}

// -- settings and modules -----------------------------------------------------------------

function onSettingUpdated(qc: QueryClient, payload: Obj, ev: LiveEvent): void {
  const key = idOf(payload, 'key');
  if (!key) {
    invalidate(qc, qk.settings);
    return;
  }
  if ('value' in payload) {
    const setting: Setting = {
      key,
      value: payload.value,
      updated_at: str(payload.updated_at) ?? ev.ts,
    };
    qc.setQueryData(qk.setting(key), setting);
  } else {
    invalidate(qc, qk.setting(key));
  }
}

function onModuleUpdated(qc: QueryClient, payload: Obj): void {
  const p = declared(payload, 'module.updated', { name: 'string', enabled: 'boolean', configured: 'boolean' });
  if (!p) {
    invalidate(qc, qk.modules);
    return;
  }
  const { name } = p;
  let found = false;
  updateAll<ItemList<ModuleInfo>>(qc, qk.modules, (old) => {
    if (!old.items.some((m) => m.name === name)) return old;
    found = true;
    return {
      ...old,
      items: old.items.map((m) =>
        m.name === name
          ? { ...m, enabled: p.enabled, configured: p.configured }
          : m,
      ),
    };
  });
  if (!found) invalidate(qc, qk.modules);
  invalidate(qc, qk.moduleConfig(name));
}

// -- feed and notifications ---------------------------------------------------------------

function limitFromKey(key: QueryKey): number {
  const n = key[1];
  return typeof n === 'number' && n > 0 ? n : DEFAULT_FEED_LIMIT;
}

function prependUnique<T extends { id: string | number }>(items: T[], item: T, limit: number): T[] {
  if (items.some((i) => i.id === item.id)) return items;
  return [item, ...items].slice(0, limit);
}

function appendToActivity(qc: QueryClient, ev: LiveEvent): void {
  updateAll<ItemList<LiveEvent>>(qc, qk.activity, (old, key) => {
    const items = prependUnique(old.items, ev, limitFromKey(key));
    return items === old.items ? old : { ...old, items };
  });
}

const LEVELS: readonly NotificationLevel[] = ['info', 'warning', 'error'];

/** The notification an event of type `notification` stands for. */
export function notificationFromEvent(ev: LiveEvent): NotificationItem {
  const p = ev.payload;
  const level = typeof p.level === 'string' && LEVELS.includes(p.level as NotificationLevel) ? (p.level as NotificationLevel) : 'info';
  return {
    // `/api/notifications` lists notification events under their event id.
    id: typeof p.id === 'number' ? p.id : ev.id,
    ts: str(p.ts) ?? ev.ts,
    title: str(p.title) ?? 'Notification',
    body: typeof p.body === 'string' ? p.body : '',
    level,
  };
}

function onNotification(qc: QueryClient, ev: LiveEvent): void {
  const n = notificationFromEvent(ev);
  updateAll<ItemList<NotificationItem>>(qc, qk.notifications, (old, key) => {
    const items = prependUnique(old.items, n, limitFromKey(key));
    return items === old.items ? old : { ...old, items };
  });
}

// -- fleet: nodes and hosts ------------------------------------------------------------------

/** The params object of a list key (`[resource, 'list', params]`). */
function listParams(key: QueryKey): Obj | undefined {
  const p = key[2];
  return isObj(p) ? p : undefined;
}

/** Invalidates the lists under `prefix` whose params match (e.g. filtered ones). */
function invalidateLists(qc: QueryClient, prefix: QueryKey, match: (params: Obj) => boolean): void {
  void qc.invalidateQueries({
    queryKey: prefix,
    predicate: (q) => {
      const p = listParams(q.queryKey);
      return p !== undefined && match(p);
    },
  });
}

const filtered = (name: string) => (p: Obj) => typeof p[name] === 'string' && p[name] !== '';

/** Applies `patch` to the node wherever it is cached; returns whether a list held it. */
function patchNode(qc: QueryClient, nodeId: string, patch: Partial<FleetNode>): boolean {
  let found = false;
  updateAll<Page<FleetNode>>(qc, qk.nodeLists, (old) => {
    if (!Array.isArray(old.items) || !old.items.some((n) => n.id === nodeId)) return old;
    found = true;
    return { ...old, items: old.items.map((n) => (n.id === nodeId ? { ...n, ...patch } : n)) };
  });
  updateAll<FleetNode>(qc, qk.node(nodeId), (old) => ({ ...old, ...patch }));
  return found;
}

function onNodeStatus(qc: QueryClient, payload: Obj): void {
  const nodeId = idOf(payload, 'node_id', 'id');
  const status = str(payload.status);
  if (!nodeId || !status) {
    invalidate(qc, qk.nodeLists);
    invalidate(qc, qk.fleetStatus);
    return;
  }
  patchNode(qc, nodeId, { status });
  // A list filtered by status gains or loses the node.
  invalidateLists(qc, qk.nodeLists, filtered('status'));
  // Counts by status move from `previous` to `status` without a request when they can.
  const previous = str(payload.previous);
  let patched = false;
  updateAll<FleetStatus>(qc, qk.fleetStatus, (old) => {
    const by = old.by_status;
    if (!isObj(by) || !previous || previous === status || !((by[previous] ?? 0) > 0)) return old;
    patched = true;
    return { ...old, by_status: { ...by, [previous]: (by[previous] ?? 0) - 1, [status]: (by[status] ?? 0) + 1 } };
  });
  if (!patched && previous !== status) invalidate(qc, qk.fleetStatus);
  invalidate(qc, qk.fleetTopology);
}

/** Something about the node changed that the event does not carry in full. */
function nodeChanged(qc: QueryClient, nodeId: string | undefined): void {
  invalidate(qc, qk.nodeLists);
  invalidate(qc, qk.fleetStatus);
  invalidate(qc, qk.fleetTopology);
  invalidate(qc, qk.nodeEndpointOptions);
  if (nodeId) {
    invalidate(qc, qk.node(nodeId));
    invalidate(qc, qk.host(nodeId));
  } else {
    invalidate(qc, qk.nodeDetails);
  }
  invalidate(qc, qk.hostLists);
}

function onNodeUpdated(qc: QueryClient, payload: Obj): void {
  const nodeId = idOf(payload, 'node_id', 'id');
  const labels = payload.labels;
  if (!nodeId || !isObj(labels)) {
    nodeChanged(qc, nodeId);
    return;
  }
  patchNode(qc, nodeId, { labels: labels as Labels });
  updateAll<Host>(qc, qk.host(nodeId), (old) => ({ ...old, labels: labels as Labels }));
  invalidateLists(qc, qk.nodeLists, filtered('label'));
  invalidate(qc, qk.hostLists);
}

function onPolicyUpdated(qc: QueryClient, payload: Obj): void {
  const nodeId = idOf(payload, 'node_id', 'id');
  if (!nodeId) return;
  const p = payload.policy;
  if (isObj(p) && typeof p.allow_exec === 'boolean' && Array.isArray(p.allowed_images)) {
    qc.setQueryData(qk.nodePolicy(nodeId), p as unknown as SecurityPolicy);
  } else {
    invalidate(qc, qk.nodePolicy(nodeId));
  }
}

function onHostGone(qc: QueryClient, hostId: string | undefined): void {
  if (hostId) {
    updateAll<Page<Host>>(qc, qk.hostLists, (old) => {
      if (!Array.isArray(old.items) || !old.items.some((h) => h.id === hostId)) return old;
      return { ...old, items: old.items.filter((h) => h.id !== hostId), total: Math.max(0, old.total - 1) };
    });
  }
  nodeChanged(qc, hostId);
  invalidate(qc, qk.endpoints);
  dockerListsChanged(qc);
}

/** A new endpoint, or one gone: every list gathered across endpoints changes. */
function dockerListsChanged(qc: QueryClient): void {
  invalidateSoon(qc, qk.containerLists);
  invalidateSoon(qc, qk.images);
  invalidateSoon(qc, qk.volumes);
  invalidateSoon(qc, qk.networks);
}

// -- Docker objects -----------------------------------------------------------------------------

/** Docker ids are shown both full (64 hex) and short (12): match either way. */
function sameDockerId(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.length < 12 || b.length < 12) return false;
  return a.startsWith(b) || b.startsWith(a);
}

function isContainer(c: unknown): c is Container {
  return isObj(c) && typeof c.id === 'string';
}

function sameContainer(c: Container, id: string, endpoint: string | undefined): boolean {
  if (endpoint && isObj(c.endpoint) && c.endpoint.id !== endpoint) return false;
  return sameDockerId(c.id, id) || c.name === id || c.name === id.replace(/^\//, '');
}

/**
 * Patches (or, with `null`, removes) the container in every cached list and detail. Returns
 * whether a list held it.
 */
function patchContainer(qc: QueryClient, id: string, endpoint: string | undefined, patch: Partial<Container> | null): boolean {
  let found = false;
  updateAll<ContainerPage>(qc, qk.containerLists, (old) => {
    if (!Array.isArray(old.items)) return old;
    const match = (c: Container) => isContainer(c) && sameContainer(c, id, endpoint);
    if (!old.items.some(match)) return old;
    found = true;
    if (patch === null) {
      return { ...old, items: old.items.filter((c) => !match(c)), total: Math.max(0, (old.total ?? 1) - 1) };
    }
    return { ...old, items: old.items.map((c) => (match(c) ? { ...c, ...patch, id: c.id } : c)) };
  });
  updateAll<Container>(qc, qk.containerDetails, (old) => {
    if (!isContainer(old) || !sameContainer(old, id, endpoint)) return old;
    return patch === null ? old : { ...old, ...patch, id: old.id };
  });
  return found;
}

/** The open detail/inspect views of that container refetch (only active ones hit the API). */
function containerDetailsChanged(qc: QueryClient): void {
  invalidateSoon(qc, qk.containerDetails);
  invalidateSoon(qc, qk.containerInspects);
}

function onContainerUpdate(qc: QueryClient, payload: Obj): void {
  const id = idOf(payload, 'id');
  const action = str(payload.action);
  const endpoint = str(payload.endpoint);
  if (!id || !action) {
    invalidateSoon(qc, qk.containerLists);
    return;
  }
  const derived = containerEventEffect(action, isObj(payload.attributes) ? payload.attributes : {});
  // The master says the state the action leads to (`state`, `status`); the action decides the rest.
  const state = str(payload.state);
  const effect = derived.kind === 'state' && state ? { kind: 'state' as const, state, status: str(payload.status) ?? derived.status } : derived;
  switch (effect.kind) {
    case 'none':
      return;
    case 'state':
      patchContainer(qc, id, endpoint, { state: effect.state, status: effect.status });
      invalidateLists(qc, qk.containerLists, filtered('state'));
      containerDetailsChanged(qc);
      // Running containers join their networks; Docker lists only those.
      invalidateSoon(qc, qk.networks);
      return;
    case 'removed':
      patchContainer(qc, id, endpoint, null);
      // Later pages shift by one; used_by of volumes and network members change.
      invalidateSoon(qc, qk.containerLists);
      containerDetailsChanged(qc);
      invalidateSoon(qc, qk.volumes);
      invalidateSoon(qc, qk.networks);
      return;
    case 'refetch':
      invalidateSoon(qc, qk.containerLists);
      containerDetailsChanged(qc);
      if (action === 'create') invalidateSoon(qc, qk.volumes);
      return;
  }
}

/** `container.action` from the API (`{id, action, endpoint}`): the new state, then the exact status. */
function onContainerAction(qc: QueryClient, payload: Obj): void {
  const id = idOf(payload, 'id');
  const after = stateAfterAction(str(payload.action) ?? '');
  if (id && after) patchContainer(qc, id, str(payload.endpoint), after);
  invalidateSoon(qc, qk.containerLists);
  containerDetailsChanged(qc);
  invalidateSoon(qc, qk.networks);
}

function onContainerRemoved(qc: QueryClient, payload: Obj): void {
  const id = idOf(payload, 'id');
  if (id) patchContainer(qc, id, str(payload.endpoint), null);
  invalidateSoon(qc, qk.containerLists);
  containerDetailsChanged(qc);
  invalidateSoon(qc, qk.volumes);
  invalidateSoon(qc, qk.networks);
}

/** Removes a named item from the lists gathered across endpoints under `prefix`. */
function removeGathered<T extends { endpoint: EndpointRef }>(
  qc: QueryClient,
  prefix: QueryKey,
  endpoint: string | undefined,
  match: (item: T) => boolean,
): boolean {
  let found = false;
  updateAll<GatheredPage<T>>(qc, prefix, (old) => {
    if (!Array.isArray(old.items)) return old;
    const hit = (i: T) => isObj(i) && match(i) && (!endpoint || !isObj(i.endpoint) || i.endpoint.id === endpoint);
    if (!old.items.some(hit)) return old;
    found = true;
    const items = old.items.filter((i) => !hit(i));
    const removed = old.items.length - items.length;
    return typeof old.total === 'number' ? { ...old, items, total: Math.max(0, old.total - removed) } : { ...old, items };
  });
  return found;
}

function onEndpointStatus(qc: QueryClient, payload: Obj): void {
  // Patch only: listing endpoints publishes this event, so a refetch here would loop.
  const id = idOf(payload, 'id');
  const status = str(payload.status);
  if (!id || !status) return;
  const error = typeof payload.error === 'string' ? payload.error : null;
  updateAll<ItemList<DockerEndpoint>>(qc, qk.endpoints, (old) => {
    if (!Array.isArray(old.items)) return old;
    const cur = old.items.find((e) => e.id === id);
    if (!cur || (cur.status === status && cur.error === error)) return old;
    return { ...old, items: old.items.map((e) => (e.id === id ? { ...e, status, error } : e)) };
  });
}

// -- coalesced invalidation -----------------------------------------------------------------
// Docker emits bursts (a compose up starts a dozen containers, each joining networks and
// mounting volumes); lists gathered across endpoints are refetched once per burst.

export const COALESCE_MS = 150;
const pending = new WeakMap<QueryClient, { keys: Map<string, QueryKey>; timer: ReturnType<typeof setTimeout> }>();

function invalidateSoon(qc: QueryClient, key: QueryKey): void {
  let p = pending.get(qc);
  if (!p) {
    p = { keys: new Map(), timer: setTimeout(() => flushInvalidations(qc), COALESCE_MS) };
    pending.set(qc, p);
  }
  p.keys.set(JSON.stringify(key), key);
}

/** Runs the pending coalesced invalidations now (tests; also harmless anywhere). */
export function flushInvalidations(qc: QueryClient): void {
  const p = pending.get(qc);
  if (!p) return;
  clearTimeout(p.timer);
  pending.delete(qc);
  for (const key of p.keys.values()) invalidate(qc, key);
}

/** Events that are not the trace of an audited API call. */
const NOT_AUDITED = new Set([
  'notification',
  'node.status',
  'node.agent',
  'container.update',
  'image.update',
  'volume.update',
  'network.update',
  'docker.event',
  'security.event',
  'image.pull',
  'image.pull_failed',
  'stack.progress',
  'operation.update',
  'endpoint.status',
  'alert.fired',
]);

/** Docker chatter that says nothing to a person (healthcheck execs, terminal resizes, …). */
const NOISY_DOCKER_ACTIONS = /^(exec_|attach|detach|resize|top|archive-path|extract-to-dir|copy|commit|export)/;

/** Whether the event belongs in the activity feed (progress ticks and probes do not). */
export function isFeedWorthy(ev: LiveEvent): boolean {
  if (ev.type === 'image.pull' || ev.type === 'stack.progress' || ev.type === 'operation.update' || ev.type === 'endpoint.status') return false;
  if (ev.type.endsWith('.update') && typeof ev.payload?.action === 'string' && NOISY_DOCKER_ACTIONS.test(ev.payload.action)) {
    return false;
  }
  return true;
}

// -- entry points -------------------------------------------------------------------------

/** Applies one live event to the cache. Never throws on an unexpected payload. */
export function applyEvent(qc: QueryClient, raw: LiveEvent): void {
  const ev: LiveEvent = isObj(raw.payload) ? raw : { ...raw, payload: {} };
  const payload: Obj = ev.payload;
  const [resource] = ev.type.split('.', 1);

  switch (ev.type) {
    case 'user.created':
      invalidate(qc, qk.userLists);
      break;
    case 'user.updated':
      onUserUpdated(qc, payload);
      break;
    case 'user.deleted':
      onUserDeleted(qc, payload);
      break;
    case 'apikey.created': {
      // The list holds only the caller's own keys; the event carries no secret, so ask.
      const owner = str(payload.user_id);
      const me = qc.getQueryData<Me>(qk.me);
      if (!owner || !me || owner === me.id) invalidate(qc, qk.apiKeys);
      break;
    }
    case 'config.imported':
      resyncAll(qc);
      return;
    case 'apikey.revoked':
      onApiKeyRevoked(qc, payload);
      break;
    case 'setting.updated':
      onSettingUpdated(qc, payload, ev);
      break;
    case 'module.updated':
      onModuleUpdated(qc, payload);
      break;
    case 'notification':
      onNotification(qc, ev);
      break;

    // fleet
    case 'node.status':
      onNodeStatus(qc, payload);
      break;
    case 'node.registered':
      nodeChanged(qc, idOf(payload, 'node_id'));
      break;
    case 'node.census': {
      const nodeId = idOf(payload, 'node_id');
      invalidate(qc, nodeId ? qk.nodeCensus(nodeId) : qk.nodeCensuses);
      // The census is how the Docker leg of the fuse is recorded.
      if (nodeId) invalidate(qc, qk.host(nodeId));
      invalidate(qc, qk.hostLists);
      break;
    }
    case 'node.updated':
      onNodeUpdated(qc, payload);
      break;
    case 'node.policy_updated':
      onPolicyUpdated(qc, payload);
      break;
    case 'node.removed':
      nodeChanged(qc, idOf(payload, 'node_id'));
      invalidate(qc, qk.endpoints);
      dockerListsChanged(qc);
      break;
    case 'node.agent':
      break;
    case 'host.created':
      invalidate(qc, qk.hostLists);
      break;
    case 'host.enroll_attempt': {
      const hostId = idOf(payload, 'host_id');
      if (hostId) {
        invalidate(qc, qk.hostAttempts(hostId));
        // A used token shows on the host.
        invalidate(qc, qk.host(hostId));
      }
      break;
    }
    case 'host.enrolled':
      nodeChanged(qc, idOf(payload, 'host_id'));
      break;
    case 'host.fused':
      nodeChanged(qc, idOf(payload, 'host_id'));
      invalidate(qc, qk.endpoints);
      dockerListsChanged(qc);
      break;
    case 'host.deleted':
      onHostGone(qc, idOf(payload, 'host_id'));
      break;

    // Docker objects
    case 'container.update':
      onContainerUpdate(qc, payload);
      break;
    case 'container.action':
      onContainerAction(qc, payload);
      break;
    case 'container.created':
      invalidate(qc, qk.containerLists);
      invalidateSoon(qc, qk.volumes);
      invalidateSoon(qc, qk.networks);
      break;
    case 'container.removed':
      onContainerRemoved(qc, payload);
      break;
    case 'image.pull':
    case 'image.pull_failed':
      // Progress is for the page that started the pull (useLiveEvents); nothing is cached.
      break;
    case 'image.update':
      invalidateSoon(qc, qk.images);
      break;
    case 'image.pulled':
    case 'image.removed':
    case 'image.pruned':
      invalidate(qc, qk.images);
      break;
    case 'volume.update':
      invalidateSoon(qc, qk.volumes);
      break;
    case 'volume.removed': {
      const name = str(payload.name);
      if (!name || !removeGathered<Volume>(qc, qk.volumes, str(payload.endpoint), (v) => v.name === name)) invalidate(qc, qk.volumes);
      break;
    }
    case 'network.update':
      invalidateSoon(qc, qk.networks);
      break;
    case 'network.removed': {
      const id = str(payload.id);
      if (id) removeGathered<DockerNetwork>(qc, qk.networkLists, str(payload.endpoint), (n) => sameDockerId(n.id, id) || n.name === id);
      invalidate(qc, qk.networks);
      break;
    }
    case 'endpoint.status':
      onEndpointStatus(qc, payload);
      break;
    case 'endpoint.created':
    case 'endpoint.deleted':
      invalidate(qc, qk.endpoints);
      invalidate(qc, qk.nodeEndpointOptions);
      dockerListsChanged(qc);
      break;

    // stacks
    case 'stack.update':
      invalidate(qc, qk.stacks);
      break;
    case 'stack.progress':
    case 'operation.update':
      // Output lines are for the page that shows the stack (useLiveEvents), which follows its
      // operation itself; nothing is cached.
      break;
    default:
      if (resource === 'alert') invalidate(qc, qk.alerts);
      else if (resource === 'stack') invalidate(qc, qk.stacks);
      break;
  }
  // A stack's status is its containers' states (exec and attach chatter changes no state).
  if (resource === 'container' && !(typeof payload.action === 'string' && NOISY_DOCKER_ACTIONS.test(payload.action))) {
    invalidateSoon(qc, qk.stacks);
  }

  if (isFeedWorthy(ev)) appendToActivity(qc, ev);
  if (!NOT_AUDITED.has(ev.type)) invalidate(qc, qk.audit);
}

/**
 * The event stream had a gap we cannot replay (lagged, master restarted): refetch every query
 * on screen and mark the rest stale.
 */
export function resyncAll(qc: QueryClient): void {
  void qc.invalidateQueries();
}
