import { QueryClient, type QueryKey } from '@tanstack/react-query';
import { beforeEach, describe, expect, it } from 'vitest';
import { qk, type AuditParams, type ContainerListParams, type NodeListParams, type UserListParams } from '../api/keys';
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
  ItemList,
  LiveEvent,
  Me,
  ModuleInfo,
  NotificationItem,
  Page,
  User,
  Volume,
} from '../api/types';
import { applyEvent, flushInvalidations, isFeedWorthy, notificationFromEvent, resyncAll } from './reducer';

const T0 = '2026-01-01T00:00:00Z';

function user(id: string, over: Partial<User> = {}): User {
  return {
    id,
    username: `user-${id}`,
    role: 'viewer',
    disabled: false,
    created_at: T0,
    updated_at: T0,
    last_login_at: null,
    ...over,
  };
}

let nextId = 1;
function ev(type: string, payload: object = {}): LiveEvent {
  return { id: nextId++, type, ts: T0, payload: payload as Record<string, unknown> };
}

/** `container.update` as the master publishes it (src/docker/events.rs), here from node n1's worker. */
function update(p: { id: string; action: string; type?: string; state?: string; status?: string; attributes?: Record<string, string> }): object {
  const attributes = p.attributes ?? {};
  return { endpoint: 'n1', node_id: 'n1', type: 'container', state: null, status: null, name: attributes.name ?? null, image: null, time: T0, seq: 1, ...p, attributes };
}

const page1: UserListParams = { limit: 2, offset: 0, q: '' };
const page2: UserListParams = { limit: 2, offset: 2, q: '' };
const auditParams: AuditParams = { actor: '', action: '', result: '', since: '', until: '', limit: 50, offset: 0 };

let qc: QueryClient;
const invalidated = (key: QueryKey) => qc.getQueryState(key)?.isInvalidated ?? false;

beforeEach(() => {
  qc = new QueryClient({ defaultOptions: { queries: { gcTime: Infinity, retry: false } } });
  qc.setQueryData<Page<User>>(qk.userList(page1), {
    items: [user('a', { role: 'admin' }), user('b')],
    total: 3,
    limit: 2,
    offset: 0,
  });
  qc.setQueryData<Page<User>>(qk.userList(page2), { items: [user('c')], total: 3, limit: 2, offset: 2 });
  qc.setQueryData<Me>(qk.me, { ...user('a', { role: 'admin' }), auth_method: 'cookie' });
  qc.setQueryData<ItemList<LiveEvent>>(qk.activityList(3), { items: [] });
  qc.setQueryData(qk.auditList(auditParams), { items: [], total: 0, limit: 50, offset: 0 });
});

describe('users', () => {
  it('user.created invalidates every page of the list (order and totals change)', () => {
    applyEvent(qc, ev('user.created', user('d')));
    expect(invalidated(qk.userList(page1))).toBe(true);
    expect(invalidated(qk.userList(page2))).toBe(true);
    expect(invalidated(qk.me)).toBe(false);
  });

  it('user.updated with a full user patches the row in place without refetching', () => {
    applyEvent(qc, ev('user.updated', user('b', { role: 'operator', disabled: true })));
    const p = qc.getQueryData<Page<User>>(qk.userList(page1))!;
    expect(p.items[1]).toMatchObject({ id: 'b', role: 'operator', disabled: true });
    expect(p.items[0]!.role).toBe('admin');
    expect(invalidated(qk.userList(page1))).toBe(false);
    // untouched page keeps identity
    expect(qc.getQueryData<Page<User>>(qk.userList(page2))!.items[0]!.id).toBe('c');
  });

  it('does not guess at a payload that is not the declared one (wrapped, partial): it refetches', () => {
    applyEvent(qc, ev('user.updated', { user: user('c', { role: 'operator' }) }));
    expect(qc.getQueryData<Page<User>>(qk.userList(page2))!.items[0]!.role).toBe('viewer');
    expect(invalidated(qk.userList(page2))).toBe(true);
    expect(invalidated(qk.me)).toBe(true);
  });

  it('a partial payload is not patched in: the lists refetch', () => {
    applyEvent(qc, ev('user.updated', { id: 'b', role: 'operator' }));
    const p = qc.getQueryData<Page<User>>(qk.userList(page1))!;
    expect(p.items[1]).toMatchObject({ id: 'b', role: 'viewer', username: 'user-b' });
    expect(invalidated(qk.userList(page1))).toBe(true);
  });

  it('updates the signed-in user when it is the one changed, keeping auth_method', () => {
    applyEvent(qc, ev('user.updated', user('a', { role: 'viewer' })));
    const me = qc.getQueryData<Me>(qk.me)!;
    expect(me.role).toBe('viewer');
    expect(me.auth_method).toBe('cookie');
    expect(invalidated(qk.me)).toBe(false);
  });

  it('re-checks the session when the signed-in user is disabled', () => {
    applyEvent(qc, ev('user.updated', user('a', { role: 'admin', disabled: true })));
    expect(invalidated(qk.me)).toBe(true);
  });

  it('user.deleted removes the row, decrements the total, drops the detail query', () => {
    qc.setQueryData(qk.user('b'), user('b'));
    applyEvent(qc, ev('user.deleted', { id: 'b' }));
    const p = qc.getQueryData<Page<User>>(qk.userList(page1))!;
    expect(p.items.map((u) => u.id)).toEqual(['a']);
    expect(p.total).toBe(2);
    expect(qc.getQueryData(qk.user('b'))).toBeUndefined();
    expect(invalidated(qk.userList(page2))).toBe(true); // rows shift between pages
  });

  it('user.deleted of the signed-in user re-checks the session', () => {
    applyEvent(qc, ev('user.deleted', { id: 'a' }));
    expect(invalidated(qk.me)).toBe(true);
  });

  it('is idempotent: an event applied twice leaves the same state', () => {
    const e = ev('user.deleted', { id: 'b' });
    applyEvent(qc, e);
    applyEvent(qc, e);
    expect(qc.getQueryData<Page<User>>(qk.userList(page1))!.total).toBe(2);
    expect(qc.getQueryData<ItemList<LiveEvent>>(qk.activityList(3))!.items).toHaveLength(1);
  });
});

describe('API keys', () => {
  const key = (id: string): ApiKey => ({
    id,
    name: id,
    prefix: 'cb_ab12',
    role: 'viewer',
    created_at: T0,
    last_used_at: null,
    expires_at: null,
  });
  beforeEach(() => qc.setQueryData<ItemList<ApiKey>>(qk.apiKeys, { items: [key('k1'), key('k2')] }));

  it('apikey.created of my own key asks the server (the list is per user)', () => {
    applyEvent(qc, ev('apikey.created', { id: 'k3', user_id: 'a', name: 'k3', role: 'viewer' }));
    expect(qc.getQueryData<ItemList<ApiKey>>(qk.apiKeys)!.items).toHaveLength(2);
    expect(invalidated(qk.apiKeys)).toBe(true);
  });

  it("apikey.created of someone else's key leaves my list alone", () => {
    applyEvent(qc, ev('apikey.created', { id: 'k4', user_id: 'zz', name: 'k4', role: 'viewer' }));
    expect(invalidated(qk.apiKeys)).toBe(false);
  });

  it('apikey.revoked removes the key in place', () => {
    applyEvent(qc, ev('apikey.revoked', { id: 'k1' }));
    expect(qc.getQueryData<ItemList<ApiKey>>(qk.apiKeys)!.items.map((k) => k.id)).toEqual(['k2']);
    expect(invalidated(qk.apiKeys)).toBe(false);
  });
});

describe('settings and modules', () => {
  it('setting.updated with a value writes the setting', () => {
    applyEvent(qc, ev('setting.updated', { key: 'ui.instance_name', value: 'Prod fleet' }));
    expect(qc.getQueryData(qk.setting('ui.instance_name'))).toEqual({
      key: 'ui.instance_name',
      value: 'Prod fleet',
      updated_at: T0,
    });
  });

  it('setting.updated without a value invalidates that setting only', () => {
    qc.setQueryData(qk.setting('ui.default_theme'), { key: 'ui.default_theme', value: 'dark', updated_at: T0 });
    qc.setQueryData(qk.setting('ui.instance_name'), { key: 'ui.instance_name', value: 'x', updated_at: T0 });
    applyEvent(qc, ev('setting.updated', { key: 'ui.default_theme' }));
    expect(invalidated(qk.setting('ui.default_theme'))).toBe(true);
    expect(invalidated(qk.setting('ui.instance_name'))).toBe(false);
  });

  it('module.updated toggles the module in the list and invalidates its config', () => {
    const mods: ModuleInfo[] = [
      { name: 'monitoring', enabled: false, configured: false, description: '', problems: [] },
      { name: 'alerting', enabled: false, configured: true, description: '', problems: [] },
    ];
    qc.setQueryData<ItemList<ModuleInfo>>(qk.modules, { items: mods });
    qc.setQueryData(qk.moduleConfig('alerting'), { module: 'alerting', enabled: false, configured: true, config: {} });
    applyEvent(qc, ev('module.updated', { name: 'alerting', enabled: true, configured: true }));
    const items = qc.getQueryData<ItemList<ModuleInfo>>(qk.modules)!.items;
    expect(items.find((m) => m.name === 'alerting')!.enabled).toBe(true);
    expect(items.find((m) => m.name === 'monitoring')!.enabled).toBe(false);
    expect(invalidated(qk.modules)).toBe(false);
    expect(invalidated(qk.moduleConfig('alerting'))).toBe(true);
  });

  it('module.updated naming an unknown module refetches the list', () => {
    qc.setQueryData<ItemList<ModuleInfo>>(qk.modules, { items: [] });
    applyEvent(qc, ev('module.updated', { name: 'backups', enabled: true, configured: true }));
    expect(invalidated(qk.modules)).toBe(true);
  });

  it('module.updated without its declared fields refetches the list', () => {
    qc.setQueryData<ItemList<ModuleInfo>>(qk.modules, { items: [{ name: 'alerting', enabled: false, configured: true, description: '', problems: [] }] });
    applyEvent(qc, ev('module.updated', { module: 'alerting', enabled: true }));
    expect(qc.getQueryData<ItemList<ModuleInfo>>(qk.modules)!.items[0]!.enabled).toBe(false);
    expect(invalidated(qk.modules)).toBe(true);
  });
});

describe('activity feed and notifications', () => {
  it('prepends every event, newest first, capped at the query limit, deduplicated', () => {
    for (let i = 0; i < 5; i++) applyEvent(qc, ev('auth.login', { username: 'x' }));
    const items = qc.getQueryData<ItemList<LiveEvent>>(qk.activityList(3))!.items;
    expect(items).toHaveLength(3);
    expect(items[0]!.id).toBeGreaterThan(items[1]!.id);
  });

  it('leaves an activity query that has not loaded alone', () => {
    qc.removeQueries({ queryKey: qk.activity });
    applyEvent(qc, ev('auth.login'));
    expect(qc.getQueryData(qk.activityList(3))).toBeUndefined();
  });

  it('notification events land in the notification lists', () => {
    qc.setQueryData<ItemList<NotificationItem>>(qk.notificationList(20), { items: [] });
    applyEvent(qc, ev('notification', { title: 'Backup complete', body: 'ok', level: 'warning' }));
    const items = qc.getQueryData<ItemList<NotificationItem>>(qk.notificationList(20))!.items;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ title: 'Backup complete', body: 'ok', level: 'warning' });
    expect(invalidated(qk.auditList(auditParams))).toBe(false);
  });

  it('notificationFromEvent fills gaps safely', () => {
    const n = notificationFromEvent({ id: 9, type: 'notification', ts: T0, payload: { level: 'bogus' } });
    expect(n).toEqual({ id: 9, ts: T0, title: 'Notification', body: '', level: 'info' });
    const m = notificationFromEvent({ id: 9, type: 'notification', ts: T0, payload: { id: 'n1', title: 'x', ts: '2026-02-02T00:00:00Z' } });
    expect(m.id).toBe(9); // notifications are listed under their event id (the payload declares none)
    expect(m.ts).toBe('2026-02-02T00:00:00Z');
  });

  it('mutating events make the audit log stale; status chatter does not', () => {
    applyEvent(qc, ev('node.status', { node_id: 'n1', status: 'stale' }));
    expect(invalidated(qk.auditList(auditParams))).toBe(false);
    applyEvent(qc, ev('auth.login', { username: 'a' }));
    expect(invalidated(qk.auditList(auditParams))).toBe(true);
  });
});

const nodeParams = (over: Partial<NodeListParams> = {}): NodeListParams => ({ limit: 50, offset: 0, q: '', status: '', label: '', ...over });

function node(id: string, over: Partial<FleetNode> = {}): FleetNode {
  return {
    id,
    name: `node-${id}`,
    hostname: id,
    status: 'healthy',
    connected: true,
    labels: {},
    agent_version: '0.1.0',
    proto_minor: 1,
    hardware: {},
    fuse: { state: 'fused', worker_registered: true, docker_answered: true, fused: true, missing: [] },
    enrolled_at: T0,
    last_seen_at: T0,
    metrics: null,
    ...over,
  };
}

const LOCAL: EndpointRef = { id: 'local', name: 'local', kind: 'local', node_id: null };
const AGENT: EndpointRef = { id: 'n1', name: 'agent-n1', kind: 'agent', node_id: 'n1' };

function container(id: string, name: string, endpoint: EndpointRef, over: Partial<Container> = {}): Container {
  return {
    id,
    name,
    image: 'busybox',
    state: 'running',
    status: 'Up 5 minutes',
    created: 0,
    labels: {},
    ports: [],
    networks: ['bridge'],
    mounts: [],
    endpoint,
    ...over,
  };
}

const cParams = (over: Partial<ContainerListParams> = {}): ContainerListParams => ({ limit: 50, offset: 0, endpoint: '', name: '', state: '', label: '', ...over });

describe('nodes and hosts', () => {
  beforeEach(() => {
    qc.setQueryData<Page<FleetNode>>(qk.nodeList(nodeParams()), { items: [node('n1'), node('n2')], total: 2, limit: 50, offset: 0 });
    qc.setQueryData<Page<FleetNode>>(qk.nodeList(nodeParams({ status: 'healthy' })), { items: [node('n1'), node('n2')], total: 2, limit: 50, offset: 0 });
    qc.setQueryData<FleetNode>(qk.node('n2'), node('n2'));
    qc.setQueryData<FleetStatus>(qk.fleetStatus, {
      total: 2,
      by_status: { healthy: 2, stale: 0, offline: 0, unknown: 0 },
      cpu_cores: 4,
      memory_total_bytes: 1,
      memory_used_bytes: 1,
      containers_running: 0,
      worst: {},
    });
  });

  it('node.status patches the status in lists and detail, and moves the count by status', () => {
    applyEvent(qc, ev('node.status', { node_id: 'n2', hostname: 'n2', status: 'offline', previous: 'healthy' }));
    const page = qc.getQueryData<Page<FleetNode>>(qk.nodeList(nodeParams()))!;
    expect(page.items.map((n) => n.status)).toEqual(['healthy', 'offline']);
    expect(qc.getQueryData<FleetNode>(qk.node('n2'))!.status).toBe('offline');
    expect(invalidated(qk.nodeList(nodeParams()))).toBe(false);
    // the list filtered on status loses the node: refetched
    expect(invalidated(qk.nodeList(nodeParams({ status: 'healthy' })))).toBe(true);
    const fs = qc.getQueryData<FleetStatus>(qk.fleetStatus)!;
    expect(fs.by_status).toMatchObject({ healthy: 1, offline: 1 });
    expect(invalidated(qk.fleetStatus)).toBe(false);
  });

  it('node.status with a previous state not counted refetches the fleet status', () => {
    applyEvent(qc, ev('node.status', { node_id: 'n1', status: 'healthy', previous: 'unknown' }));
    expect(invalidated(qk.fleetStatus)).toBe(true);
  });

  it('node.updated patches labels and refetches label-filtered lists only', () => {
    const labelled = nodeParams({ label: 'env=prod' });
    qc.setQueryData<Page<FleetNode>>(qk.nodeList(labelled), { items: [], total: 0, limit: 50, offset: 0 });
    applyEvent(qc, ev('node.updated', { node_id: 'n1', labels: { env: 'prod' } }));
    expect(qc.getQueryData<Page<FleetNode>>(qk.nodeList(nodeParams()))!.items[0]!.labels).toEqual({ env: 'prod' });
    expect(invalidated(qk.nodeList(labelled))).toBe(true);
    expect(invalidated(qk.nodeList(nodeParams()))).toBe(false);
  });

  it('node.policy_updated stores the policy it carries', () => {
    const policy = { allow_exec: false, allow_privileged: false, allowed_bind_prefixes: ['/srv'], allowed_images: ['*'] };
    applyEvent(qc, ev('node.policy_updated', { node_id: 'n1', policy }));
    expect(qc.getQueryData(qk.nodePolicy('n1'))).toEqual(policy);
  });

  it('node.census refetches that node’s census and diff and its host', () => {
    qc.setQueryData(qk.nodeCensus('n1'), { id: 'c1', node_id: 'n1', ts: T0 });
    qc.setQueryData(qk.nodeCensusDiff('n1'), null);
    qc.setQueryData(qk.nodeCensus('n2'), { id: 'c2', node_id: 'n2', ts: T0 });
    qc.setQueryData(qk.host('n1'), { id: 'n1' });
    applyEvent(qc, ev('node.census', { node_id: 'n1', census_id: 'c3' }));
    expect(invalidated(qk.nodeCensus('n1'))).toBe(true);
    expect(invalidated(qk.nodeCensusDiff('n1'))).toBe(true);
    expect(invalidated(qk.host('n1'))).toBe(true);
    expect(invalidated(qk.nodeCensus('n2'))).toBe(false);
  });

  it('host events refetch the host, its attempts and the lists', () => {
    const hp = { limit: 50, offset: 0 };
    qc.setQueryData(qk.host('h1'), { id: 'h1' });
    qc.setQueryData(qk.host('h2'), { id: 'h2' });
    qc.setQueryData(qk.hostAttempts('h1'), { items: [] });
    qc.setQueryData(qk.hostList(hp), { items: [{ id: 'h1' }, { id: 'h2' }], total: 2, limit: 50, offset: 0 });

    applyEvent(qc, ev('host.enroll_attempt', { host_id: 'h1', accepted: false, reason: 'bad_secret' }));
    expect(invalidated(qk.hostAttempts('h1'))).toBe(true);
    expect(invalidated(qk.host('h1'))).toBe(true);
    expect(invalidated(qk.host('h2'))).toBe(false);

    applyEvent(qc, ev('host.fused', { host_id: 'h2' }));
    expect(invalidated(qk.host('h2'))).toBe(true);
    expect(invalidated(qk.nodeList(nodeParams()))).toBe(true);
    expect(invalidated(qk.fleetStatus)).toBe(true);
  });

  it('host.deleted drops the host from the list', () => {
    const hp = { limit: 50, offset: 0 };
    qc.setQueryData(qk.hostList(hp), { items: [{ id: 'h1' }, { id: 'h2' }], total: 2, limit: 50, offset: 0 });
    applyEvent(qc, ev('host.deleted', { host_id: 'h1', name: 'x' }));
    const list = qc.getQueryData<Page<{ id: string }>>(qk.hostList(hp))!;
    expect(list.items.map((h) => h.id)).toEqual(['h2']);
    expect(list.total).toBe(1);
  });
});

describe('containers', () => {
  const full = 'abcdef1234567890'.padEnd(64, '0');
  beforeEach(() => {
    qc.setQueryData<ContainerPage>(qk.containerList(cParams()), {
      items: [container(full, 'web', AGENT), container(full, 'web', LOCAL), container('ffff00001111'.padEnd(64, '1'), 'db', AGENT)],
      total: 3,
      limit: 50,
      offset: 0,
      errors: [],
    });
    qc.setQueryData<ContainerPage>(qk.containerList(cParams({ state: 'running' })), { items: [], total: 0, limit: 50, offset: 0, errors: [] });
  });
  const list = () => qc.getQueryData<ContainerPage>(qk.containerList(cParams()))!;

  it('container.update (Docker die) patches state and exit code on that endpoint only', () => {
    applyEvent(qc, ev('container.update', update({ id: full, action: 'die', state: 'exited', status: 'Exited (137)', attributes: { exitCode: '137', name: 'web' } })));
    expect(list().items.map((c) => `${c.endpoint.id}:${c.state}:${c.status}`)).toEqual([
      'n1:exited:Exited (137)',
      'local:running:Up 5 minutes',
      'n1:running:Up 5 minutes',
    ]);
    expect(invalidated(qk.containerList(cParams()))).toBe(false);
    expect(invalidated(qk.containerList(cParams({ state: 'running' })))).toBe(true);
  });

  it('the same payload from the local engine patches the local row only, with the state it carries', () => {
    applyEvent(qc, ev('container.update', { ...update({ id: full, action: 'pause', state: 'paused', status: 'Up (Paused)', attributes: { name: 'web' } }), endpoint: 'local', node_id: null, seq: null }));
    expect(list().items.map((c) => `${c.endpoint.id}:${c.state}:${c.status}`)).toEqual([
      'n1:running:Up 5 minutes',
      'local:paused:Up (Paused)',
      'n1:running:Up 5 minutes',
    ]);
  });

  it('matches a short id and pause/unpause map to paused/running', () => {
    applyEvent(qc, ev('container.update', update({ id: 'abcdef123456', action: 'pause', attributes: {} })));
    expect(list().items[0]!.state).toBe('paused');
    applyEvent(qc, ev('container.update', update({ id: 'abcdef123456', action: 'unpause', attributes: {} })));
    expect(list().items[0]!.state).toBe('running');
  });

  it('destroy removes the row; exec chatter changes nothing and stays out of the feed', () => {
    applyEvent(qc, ev('container.update', update({ id: 'ffff00001111', action: 'exec_start: sh', attributes: {} })));
    expect(list().items).toHaveLength(3);
    expect(qc.getQueryData<ItemList<LiveEvent>>(qk.activityList(3))!.items).toHaveLength(0);
    applyEvent(qc, ev('container.update', update({ id: 'ffff00001111', action: 'destroy', attributes: {} })));
    expect(list().items.map((c) => c.name)).toEqual(['web', 'web']);
    expect(list().total).toBe(2);
    // later pages shift: refetched once the burst is over
    expect(invalidated(qk.containerList(cParams()))).toBe(false);
    flushInvalidations(qc);
    expect(invalidated(qk.containerList(cParams()))).toBe(true);
  });

  it('create refetches lists once per burst', () => {
    for (let i = 0; i < 5; i++) applyEvent(qc, ev('container.update', update({ id: `${i}`.repeat(64), action: 'create', attributes: {} })));
    expect(invalidated(qk.containerList(cParams()))).toBe(false);
    flushInvalidations(qc);
    expect(invalidated(qk.containerList(cParams()))).toBe(true);
  });

  it('container.action from the API sets the new state at once and the detail view too', () => {
    qc.setQueryData<Container>(qk.container('local', full), container(full, 'web', LOCAL));
    applyEvent(qc, ev('container.action', { id: full, action: 'stop', endpoint: 'local' }));
    expect(list().items.map((c) => c.state)).toEqual(['running', 'exited', 'running']);
    expect(qc.getQueryData<Container>(qk.container('local', full))!.state).toBe('exited');
  });

  it('container.removed drops the row from that endpoint', () => {
    applyEvent(qc, ev('container.removed', { id: full, endpoint: 'local' }));
    expect(list().items.map((c) => c.endpoint.id)).toEqual(['n1', 'n1']);
  });
});

describe('images, volumes, networks, endpoints', () => {
  it('image events invalidate the image lists; pull progress does not touch the cache or the feed', () => {
    qc.setQueryData(qk.imageList({ endpoint: '' }), { items: [], errors: [] });
    applyEvent(qc, ev('image.pull', { operation: 'o', image: 'busybox', layer: 'l1', status: 'Downloading', current: 1, total: 2 }));
    expect(invalidated(qk.imageList({ endpoint: '' }))).toBe(false);
    expect(qc.getQueryData<ItemList<LiveEvent>>(qk.activityList(3))!.items).toHaveLength(0);
    applyEvent(qc, ev('image.pulled', { image: 'busybox', endpoint: 'local' }));
    expect(invalidated(qk.imageList({ endpoint: '' }))).toBe(true);
  });

  it('volume.removed and network.removed drop the item without a refetch of volumes', () => {
    qc.setQueryData<GatheredPage<Volume>>(qk.volumeList({ endpoint: '' }), {
      items: [
        { name: 'data', driver: 'local', mountpoint: '/x', labels: {}, used_by: [], endpoint: LOCAL },
        { name: 'data', driver: 'local', mountpoint: '/x', labels: {}, used_by: [], endpoint: AGENT },
      ],
      total: 7,
      limit: 2,
      offset: 0,
      errors: [],
    });
    applyEvent(qc, ev('volume.removed', { name: 'data', endpoint: 'local' }));
    const vols = qc.getQueryData<GatheredPage<Volume>>(qk.volumeList({ endpoint: '' }))!;
    expect(vols.items.map((v) => v.endpoint.id)).toEqual(['n1']);
    expect(vols.total).toBe(6);
    expect(invalidated(qk.volumeList({ endpoint: '' }))).toBe(false);

    qc.setQueryData<GatheredPage<DockerNetwork>>(qk.networkList({ endpoint: '' }), {
      items: [{ id: 'a'.repeat(64), name: 'front', driver: 'bridge', scope: 'local', internal: false, labels: {}, containers: [], endpoint: LOCAL }],
      total: 1,
      limit: 50,
      offset: 0,
      errors: [],
    });
    qc.setQueryData(qk.networkTopology({ endpoint: '' }), { nodes: [], edges: [], errors: [] });
    applyEvent(qc, ev('network.removed', { id: 'front', endpoint: 'local' }));
    expect(qc.getQueryData<GatheredPage<DockerNetwork>>(qk.networkList({ endpoint: '' }))!.items).toHaveLength(0);
    expect(invalidated(qk.networkTopology({ endpoint: '' }))).toBe(true);
  });

  it('endpoint.status patches the endpoint and never refetches (listing publishes it)', () => {
    qc.setQueryData<ItemList<DockerEndpoint>>(qk.endpoints, {
      items: [{ id: 'e1', name: 'remote', kind: 'tcp', url: 'tcp://x:2376', tls: true, status: 'up', docker_version: '28', error: null, created_at: T0 }],
    });
    applyEvent(qc, ev('endpoint.status', { id: 'e1', status: 'down', error: 'no answer within 5 s' }));
    const e = qc.getQueryData<ItemList<DockerEndpoint>>(qk.endpoints)!.items[0]!;
    expect(e).toMatchObject({ status: 'down', error: 'no answer within 5 s' });
    expect(invalidated(qk.endpoints)).toBe(false);
    applyEvent(qc, ev('endpoint.created', { id: 'e2', name: 'b', kind: 'tcp' }));
    expect(invalidated(qk.endpoints)).toBe(true);
  });

  it('stack.update refreshes stack lists and details; progress is neither cached nor in the feed', () => {
    qc.setQueryData(qk.stackList({ limit: 50, offset: 0, endpoint: '', name: '', status: '', source: '' }), { items: [] });
    qc.setQueryData(qk.stack('s'), { id: 's' });
    applyEvent(qc, ev('stack.progress', { id: 's', action: 'deploy', line: 'Creating' }));
    expect(invalidated(qk.stacks)).toBe(false);
    expect(isFeedWorthy(ev('stack.progress', { id: 's' }))).toBe(false);
    applyEvent(qc, ev('stack.update', { id: 's', name: 'web', endpoint: 'local', status: 'running' }));
    expect(invalidated(qk.stackList({ limit: 50, offset: 0, endpoint: '', name: '', status: '', source: '' }))).toBe(true);
    expect(invalidated(qk.stack('s'))).toBe(true);
  });

  it('container state changes refresh stacks (coalesced); exec chatter does not', () => {
    const key = qk.stack('s');
    qc.setQueryData(key, { id: 's' });
    applyEvent(qc, ev('container.update', update({ id: 'c1', action: 'exec_start: sh' })));
    flushInvalidations(qc);
    expect(invalidated(key)).toBe(false);
    applyEvent(qc, ev('container.update', update({ id: 'c1', action: 'die', attributes: { exitCode: '0' } })));
    flushInvalidations(qc);
    expect(invalidated(key)).toBe(true);
  });
});

describe('robustness', () => {
  it('never throws on odd payloads', () => {
    const odd: unknown[] = [null, 'x', 42, [], { user: 'nope' }, { id: 7 }];
    for (const type of [
      'user.created',
      'user.updated',
      'user.deleted',
      'apikey.revoked',
      'setting.updated',
      'module.updated',
      'notification',
      'node.status',
      'node.registered',
      'node.census',
      'node.updated',
      'node.policy_updated',
      'node.removed',
      'host.created',
      'host.enrolled',
      'host.fused',
      'host.enroll_attempt',
      'host.deleted',
      'container.update',
      'container.action',
      'container.removed',
      'image.pull',
      'volume.removed',
      'network.removed',
      'endpoint.status',
      'something.new',
    ]) {
      for (const payload of odd) {
        expect(() => applyEvent(qc, { id: nextId++, type, ts: T0, payload: payload as Record<string, unknown> })).not.toThrow();
      }
    }
  });

  it('config.imported refetches everything', () => {
    applyEvent(qc, ev('config.imported', { report: {} }));
    expect(invalidated(qk.me)).toBe(true);
    expect(invalidated(qk.userList(page2))).toBe(true);
  });

  it('resyncAll invalidates everything', () => {
    resyncAll(qc);
    expect(invalidated(qk.me)).toBe(true);
    expect(invalidated(qk.userList(page1))).toBe(true);
    expect(invalidated(qk.activityList(3))).toBe(true);
  });
});
