// Applies live events from `/api/ws` to the react-query cache, so that every view updates
// without polling. The rule of thumb:
//  - when the event carries the whole new state of one item that is already in a cached list,
//    patch it in place (instant, no request);
//  - when it changes what a list contains or how it is ordered/paginated (creations), or carries
//    too little to patch, invalidate the affected queries: react-query refetches the ones on
//    screen and marks the others stale;
//  - every event is also prepended to the cached activity feed.
//
// Payload shapes are not pinned down by the spec yet, so each handler accepts the item itself
// (`payload: User`) or wrapped (`payload: {user: User}`), and degrades to invalidation.

import type { QueryClient, QueryKey } from '@tanstack/react-query';
import { qk, type ResourceKind } from '../api/keys';
import type {
  ApiKey,
  ItemList,
  LiveEvent,
  Me,
  ModuleInfo,
  NotificationItem,
  NotificationLevel,
  Page,
  ResourceList,
  Role,
  Setting,
  User,
} from '../api/types';

type Obj = Record<string, unknown>;

const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];
const DEFAULT_FEED_LIMIT = 100;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** `payload.<name>` when it is an object, else the payload itself. */
function unwrap(payload: Obj, name: string): Obj {
  const inner = payload[name];
  return isObj(inner) ? inner : payload;
}

function idOf(payload: Obj, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = str(payload[n]);
    if (v) return v;
  }
  return undefined;
}

function asFullUser(p: Obj): User | null {
  if (
    typeof p.id === 'string' &&
    typeof p.username === 'string' &&
    typeof p.role === 'string' &&
    ROLES.includes(p.role as Role) &&
    typeof p.disabled === 'boolean'
  ) {
    return p as unknown as User;
  }
  return null;
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
  const p = unwrap(payload, 'user');
  const id = idOf(p, 'id', 'user_id');
  if (!id) {
    invalidate(qc, qk.users);
    invalidate(qc, qk.me);
    return;
  }
  const full = asFullUser(p);
  const patch: Partial<User> = full ?? {
    ...(typeof p.username === 'string' ? { username: p.username } : {}),
    ...(typeof p.role === 'string' && ROLES.includes(p.role as Role) ? { role: p.role as Role } : {}),
    ...(typeof p.disabled === 'boolean' ? { disabled: p.disabled } : {}),
    ...(typeof p.updated_at === 'string' ? { updated_at: p.updated_at } : {}),
  };
  updateAll<Page<User>>(qc, qk.userLists, (old) => {
    if (!old.items.some((u) => u.id === id)) return old;
    return { ...old, items: old.items.map((u) => (u.id === id ? { ...u, ...patch } : u)) };
  });
  updateAll<User>(qc, qk.user(id), (old) => ({ ...old, ...patch }));
  if (!full) invalidate(qc, qk.users);

  const me = qc.getQueryData<Me>(qk.me);
  if (me && me.id === id) {
    qc.setQueryData<Me>(qk.me, { ...me, ...patch, auth_method: me.auth_method });
    // A disabled account loses its session; let the server say so.
    if (patch.disabled || !full) invalidate(qc, qk.me);
  }
}

function onUserDeleted(qc: QueryClient, payload: Obj): void {
  const id = idOf(unwrap(payload, 'user'), 'id', 'user_id');
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
  const id = idOf(unwrap(payload, 'key'), 'id', 'key_id');
  if (!id) {
    invalidate(qc, qk.apiKeys);
    return;
  }
  updateAll<ItemList<ApiKey>>(qc, qk.apiKeys, (old) =>
    old.items.some((k) => k.id === id) ? { ...old, items: old.items.filter((k) => k.id !== id) } : old,
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
  const p = unwrap(payload, 'module');
  const name = idOf(p, 'name', 'module');
  if (!name) {
    invalidate(qc, qk.modules);
    return;
  }
  let found = false;
  updateAll<ItemList<ModuleInfo>>(qc, qk.modules, (old) => {
    if (!old.items.some((m) => m.name === name)) return old;
    found = true;
    return {
      ...old,
      items: old.items.map((m) =>
        m.name === name
          ? {
              ...m,
              ...(typeof p.enabled === 'boolean' ? { enabled: p.enabled } : {}),
              ...(typeof p.configured === 'boolean' ? { configured: p.configured } : {}),
            }
          : m,
      ),
    };
  });
  if (!found || typeof p.enabled !== 'boolean') invalidate(qc, qk.modules);
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
    id: typeof p.id === 'string' || typeof p.id === 'number' ? p.id : ev.id,
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

// -- Docker-side resources ----------------------------------------------------------------

const REMOVED_STATES = new Set(['removed', 'remove', 'destroyed', 'destroy', 'deleted']);

/** Docker ids are shown both full (64 hex) and short (12): match either way. */
function sameDockerId(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.length < 12 || b.length < 12) return false;
  return a.startsWith(b) || b.startsWith(a);
}

function onNodeStatus(qc: QueryClient, payload: Obj): void {
  const nodeId = idOf(payload, 'node_id', 'id');
  const status = str(payload.status);
  if (!nodeId || !status) {
    invalidate(qc, qk.resources('nodes'));
    return;
  }
  let found = false;
  updateAll<ResourceList>(qc, qk.resources('nodes'), (old) => {
    if (!old.items.some((n) => str(n.id) === nodeId || str(n.node_id) === nodeId)) return old;
    found = true;
    return {
      ...old,
      items: old.items.map((n) => (str(n.id) === nodeId || str(n.node_id) === nodeId ? { ...n, status } : n)),
    };
  });
  if (!found) invalidate(qc, qk.resources('nodes'));
}

function onContainerUpdate(qc: QueryClient, payload: Obj): void {
  const p = unwrap(payload, 'container');
  const id = idOf(p, 'id', 'container_id');
  if (!id) {
    invalidate(qc, qk.resources('containers'));
    return;
  }
  const state = str(p.state);
  const removed = state !== undefined && REMOVED_STATES.has(state.toLowerCase());
  let found = false;
  updateAll<ResourceList>(qc, qk.resources('containers'), (old) => {
    const match = (c: Obj) => {
      const cid = str(c.id);
      return cid !== undefined && sameDockerId(cid, id);
    };
    if (!old.items.some(match)) return old;
    found = true;
    if (removed) {
      return {
        ...old,
        items: old.items.filter((c) => !match(c)),
        ...(typeof old.total === 'number' ? { total: Math.max(0, old.total - 1) } : {}),
      };
    }
    // Keep the id the list already uses (short vs full).
    return { ...old, items: old.items.map((c) => (match(c) ? { ...c, ...p, id: c.id } : c)) };
  });
  if (!found && !removed) invalidate(qc, qk.resources('containers'));
}

const RESOURCE_PREFIXES: Record<string, ResourceKind> = {
  node: 'nodes',
  host: 'nodes',
  container: 'containers',
  stack: 'stacks',
  image: 'images',
  volume: 'volumes',
  network: 'networks',
};

/** Events that are not the trace of an audited API call. */
const NOT_AUDITED = new Set(['notification', 'node.status', 'container.update', 'alert.fired']);

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
    case 'node.status':
      onNodeStatus(qc, payload);
      break;
    case 'container.update':
      onContainerUpdate(qc, payload);
      break;
    default:
      if (resource === 'alert') invalidate(qc, qk.alerts);
      else if (resource && resource in RESOURCE_PREFIXES) invalidate(qc, qk.resources(RESOURCE_PREFIXES[resource]!));
      break;
  }

  appendToActivity(qc, ev);
  if (!NOT_AUDITED.has(ev.type)) invalidate(qc, qk.audit);
}

/**
 * The event stream had a gap we cannot replay (lagged, master restarted): refetch every query
 * on screen and mark the rest stale.
 */
export function resyncAll(qc: QueryClient): void {
  void qc.invalidateQueries();
}
