import { QueryClient, type QueryKey } from '@tanstack/react-query';
import { beforeEach, describe, expect, it } from 'vitest';
import { qk, type AuditParams, type UserListParams } from '../api/keys';
import type { ApiKey, ItemList, LiveEvent, Me, ModuleInfo, NotificationItem, Page, ResourceList, User } from '../api/types';
import { applyEvent, notificationFromEvent, resyncAll } from './reducer';

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

  it('accepts the user wrapped as payload.user', () => {
    applyEvent(qc, ev('user.updated', { user: user('c', { role: 'operator' }) }));
    expect(qc.getQueryData<Page<User>>(qk.userList(page2))!.items[0]!.role).toBe('operator');
  });

  it('a partial payload patches what it knows and invalidates the rest', () => {
    applyEvent(qc, ev('user.updated', { id: 'b', role: 'operator' }));
    const p = qc.getQueryData<Page<User>>(qk.userList(page1))!;
    expect(p.items[1]).toMatchObject({ id: 'b', role: 'operator', username: 'user-b' });
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
      { name: 'monitoring', enabled: false, configured: false, description: '' },
      { name: 'alerting', enabled: false, configured: true, description: '' },
    ];
    qc.setQueryData<ItemList<ModuleInfo>>(qk.modules, { items: mods });
    qc.setQueryData(qk.moduleConfig('alerting'), { module: 'alerting', enabled: false, configured: true, config: {} });
    applyEvent(qc, ev('module.updated', { name: 'alerting', enabled: true }));
    const items = qc.getQueryData<ItemList<ModuleInfo>>(qk.modules)!.items;
    expect(items.find((m) => m.name === 'alerting')!.enabled).toBe(true);
    expect(items.find((m) => m.name === 'monitoring')!.enabled).toBe(false);
    expect(invalidated(qk.modules)).toBe(false);
    expect(invalidated(qk.moduleConfig('alerting'))).toBe(true);
  });

  it('module.updated naming an unknown module (or as `module`) refetches the list', () => {
    qc.setQueryData<ItemList<ModuleInfo>>(qk.modules, { items: [] });
    applyEvent(qc, ev('module.updated', { module: 'backups', enabled: true }));
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
    expect(m.id).toBe('n1');
    expect(m.ts).toBe('2026-02-02T00:00:00Z');
  });

  it('mutating events make the audit log stale; status chatter does not', () => {
    applyEvent(qc, ev('node.status', { node_id: 'n1', status: 'stale' }));
    expect(invalidated(qk.auditList(auditParams))).toBe(false);
    applyEvent(qc, ev('auth.login', { username: 'a' }));
    expect(invalidated(qk.auditList(auditParams))).toBe(true);
  });
});

describe('fleet resources', () => {
  beforeEach(() => {
    qc.setQueryData<ResourceList>(qk.resources('nodes'), {
      items: [
        { id: 'n1', name: 'alpha', status: 'healthy' },
        { id: 'n2', name: 'beta', status: 'healthy' },
      ],
    });
    qc.setQueryData<ResourceList>(qk.resources('containers'), {
      items: [
        { id: 'abcdef1234567890', name: 'web', state: 'running' },
        { id: 'ffff00001111', name: 'db', state: 'running' },
      ],
      total: 2,
    });
  });

  it('node.status patches the node status in place', () => {
    applyEvent(qc, ev('node.status', { node_id: 'n2', status: 'offline' }));
    const items = qc.getQueryData<ResourceList>(qk.resources('nodes'))!.items;
    expect(items.map((n) => n.status)).toEqual(['healthy', 'offline']);
    expect(invalidated(qk.resources('nodes'))).toBe(false);
  });

  it('node.status for an unknown node refetches the list', () => {
    applyEvent(qc, ev('node.status', { node_id: 'n9', status: 'healthy' }));
    expect(invalidated(qk.resources('nodes'))).toBe(true);
  });

  it('container.update merges by full or short id and keeps the listed id', () => {
    applyEvent(qc, ev('container.update', { id: 'abcdef1234567890aaaaaaaaaaaaaaaa', state: 'exited', status: 'Exited (0)' }));
    const items = qc.getQueryData<ResourceList>(qk.resources('containers'))!.items;
    expect(items[0]).toMatchObject({ id: 'abcdef1234567890', name: 'web', state: 'exited', status: 'Exited (0)' });
    expect(items[1]!.state).toBe('running');
  });

  it('container.update with a removed state drops the row', () => {
    applyEvent(qc, ev('container.update', { id: 'ffff00001111', state: 'destroyed' }));
    const list = qc.getQueryData<ResourceList>(qk.resources('containers'))!;
    expect(list.items.map((c) => c.name)).toEqual(['web']);
    expect(list.total).toBe(1);
  });

  it('container.update for a new container refetches', () => {
    applyEvent(qc, ev('container.update', { id: '999999999999', state: 'running' }));
    expect(invalidated(qk.resources('containers'))).toBe(true);
  });

  it('image/volume/network/stack events invalidate their list', () => {
    for (const kind of ['images', 'volumes', 'networks', 'stacks'] as const) {
      qc.setQueryData<ResourceList>(qk.resources(kind), { items: [] });
    }
    applyEvent(qc, ev('image.pulled', { id: 'sha256:1' }));
    expect(invalidated(qk.resources('images'))).toBe(true);
    expect(invalidated(qk.resources('volumes'))).toBe(false);
    applyEvent(qc, ev('volume.removed', { name: 'v' }));
    applyEvent(qc, ev('network.created', { id: 'x' }));
    applyEvent(qc, ev('stack.deployed', { id: 's' }));
    for (const kind of ['volumes', 'networks', 'stacks'] as const) {
      expect(invalidated(qk.resources(kind))).toBe(true);
    }
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
      'container.update',
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
