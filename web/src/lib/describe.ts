// One-line, human descriptions of live events for the activity feed.

import type { LiveEvent } from '../api/types';

type Obj = Record<string, unknown>;

function s(v: unknown): string | undefined {
  if (typeof v === 'string' && v) return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

function inner(p: Obj, name: string): Obj {
  const v = p[name];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : p;
}

/** The event's category, used for icons and filters. */
export type EventCategory = 'users' | 'keys' | 'settings' | 'auth' | 'notifications' | 'fleet' | 'alerts' | 'other';

export function eventCategory(type: string): EventCategory {
  const [res] = type.split('.', 1);
  switch (res) {
    case 'user':
      return 'users';
    case 'apikey':
      return 'keys';
    case 'setting':
    case 'module':
    case 'config':
      return 'settings';
    case 'auth':
      return 'auth';
    case 'notification':
      return 'notifications';
    case 'alert':
      return 'alerts';
    case 'node':
    case 'host':
    case 'container':
    case 'stack':
    case 'image':
    case 'volume':
    case 'network':
      return 'fleet';
    default:
      return 'other';
  }
}

export function describeEvent(ev: LiveEvent): string {
  const p: Obj = ev.payload && typeof ev.payload === 'object' ? ev.payload : {};
  const actor = s(p.actor) ?? s(p.by);
  const by = actor ? ` by ${actor}` : '';
  switch (ev.type) {
    case 'user.created':
    case 'user.updated':
    case 'user.deleted': {
      const u = inner(p, 'user');
      const name = s(u.username) ?? s(u.id) ?? 'a user';
      const verb = ev.type.slice(5);
      const extra = ev.type === 'user.updated' && s(u.role) ? ` (role ${s(u.role)}${u.disabled === true ? ', disabled' : ''})` : '';
      return `User ${name} ${verb}${extra}${by}`;
    }
    case 'apikey.created':
    case 'apikey.revoked': {
      const k = inner(p, 'key');
      const name = s(k.name) ?? s(k.prefix) ?? s(k.id) ?? 'an API key';
      return `API key ${name} ${ev.type === 'apikey.created' ? 'created' : 'revoked'}${by}`;
    }
    case 'setting.updated':
      return `Setting ${s(p.key) ?? ''} updated${by}`.replace('  ', ' ');
    case 'module.updated': {
      const m = inner(p, 'module');
      const name = s(m.name) ?? s(m.module) ?? 'a module';
      const state = m.enabled === true ? ' (enabled)' : m.enabled === false ? ' (disabled)' : '';
      return `Module ${name} updated${state}${by}`;
    }
    case 'auth.login': {
      const who = s(p.username) ?? s(inner(p, 'user').username) ?? 'someone';
      const ip = s(p.source_ip) ?? s(p.ip);
      return `${who} signed in${ip ? ` from ${ip}` : ''}`;
    }
    case 'auth.refresh_reuse':
      return `A reused refresh token was presented; that session was revoked${s(p.user_id) ? ` (user ${s(p.user_id)})` : ''}`;
    case 'auth.jwt_rotated':
      return 'The token signing key was rotated';
    case 'config.imported':
      return `A configuration import was applied${by}`;
    case 'notification':
      return s(p.title) ?? 'Notification';
    case 'node.status':
      return `Node ${s(p.name) ?? s(p.node_id) ?? ''} is ${s(p.status) ?? 'unknown'}`;
    case 'container.update': {
      const c = inner(p, 'container');
      return `Container ${s(c.name) ?? (s(c.id) ?? '').slice(0, 12)} ${s(c.state) ?? 'updated'}`;
    }
    case 'alert.fired':
      return `Alert ${s(p.name) ?? s(p.id) ?? ''} fired${s(p.severity) ? ` (${s(p.severity)})` : ''}`;
    default: {
      const [res, verb] = ev.type.split('.');
      const name = s(p.name) ?? s(p.id) ?? s(p.key);
      const noun = res ? res.charAt(0).toUpperCase() + res.slice(1) : 'Event';
      return `${noun}${name ? ` ${name}` : ''} ${verb ?? ''}${by}`.trim();
    }
  }
}
