// One-line, human descriptions of live events for the activity feed.

import type { LiveEvent } from '../api/types';

type Obj = Record<string, unknown>;

function s(v: unknown): string | undefined {
  if (typeof v === 'string' && v) return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** A short form of an id (Docker's 12 characters; the tail of a UUID). */
function short(v: unknown): string {
  const id = s(v);
  if (!id) return '?';
  if (/^(sha256:)?[0-9a-f]{64}$/.test(id)) return id.replace(/^sha256:/, '').slice(0, 12);
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-/.test(id)) return id.slice(-6);
  return id;
}

/** An endpoint id as people read it: `local`, or the node an agent endpoint belongs to. */
function endpoint(v: unknown): string {
  const id = s(v);
  if (!id) return 'an endpoint';
  return /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(id) ? `node …${id.slice(-6)}` : id;
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
    case 'endpoint':
    case 'docker':
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
    case 'node.status': {
      const was = s(p.previous);
      return `Node ${s(p.hostname) ?? s(p.name) ?? short(p.node_id)} is ${s(p.status) ?? 'unknown'}${was ? ` (was ${was})` : ''}`;
    }
    case 'node.registered':
      return `Node ${s(p.hostname) ?? short(p.node_id)} registered${s(p.agent_version) ? ` (agent ${s(p.agent_version)})` : ''}`;
    case 'node.census':
      return `Census taken on node ${short(p.node_id)}`;
    case 'node.updated':
      return `Labels of node ${short(p.node_id)} updated${by}`;
    case 'node.policy_updated':
      return `Security policy of node ${short(p.node_id)} updated${by}`;
    case 'node.removed':
      return `Node ${s(p.hostname) ?? short(p.node_id)} removed${by}`;
    case 'host.created':
      return `Host ${s(p.name) ?? short(p.host_id)} added${by}`;
    case 'host.enrolled':
      return `Host ${s(p.hostname) ?? short(p.host_id)} enrolled its worker${s(p.agent_version) ? ` (agent ${s(p.agent_version)})` : ''}`;
    case 'host.fused':
      return `Host ${s(p.hostname) ?? short(p.host_id)} fused: its Docker engine is an endpoint`;
    case 'host.enroll_attempt': {
      const from = s(p.source_ip) ? ` from ${s(p.source_ip)}` : '';
      return p.accepted === true ? `Enrollment accepted${from}` : `Enrollment refused (${s(p.reason) ?? 'unknown reason'})${from}`;
    }
    case 'host.deleted':
      return `Host ${s(p.name) ?? short(p.host_id)} deleted${by}`;
    case 'container.update': {
      const c = inner(p, 'container');
      const attrs = typeof p.attributes === 'object' && p.attributes !== null ? (p.attributes as Obj) : {};
      const name = s(attrs.name) ?? s(c.name) ?? short(c.id);
      const what = s(p.action) ?? s(c.state) ?? 'updated';
      return `Container ${name} ${what}${s(attrs.exitCode) && what === 'die' ? ` (exit ${s(attrs.exitCode)})` : ''}`;
    }
    case 'container.action':
      return `Container ${short(p.id)}: ${s(p.action) ?? 'action'} on ${endpoint(p.endpoint)}${by}`;
    case 'container.created':
      return `Container ${short(p.id)} created on ${endpoint(p.endpoint)}${by}`;
    case 'container.removed':
      return `Container ${short(p.id)} removed from ${endpoint(p.endpoint)}${by}`;
    case 'image.pulled':
      return `Image ${s(p.image) ?? ''} pulled on ${endpoint(p.endpoint)}${by}`;
    case 'image.pruned': {
      const bytes = typeof p.space_reclaimed_bytes === 'number' ? p.space_reclaimed_bytes : null;
      return `Images pruned on ${endpoint(p.endpoint)}: ${s(p.deleted) ?? '0'} removed${bytes !== null ? `, ${(bytes / 1048576).toFixed(1)} MiB reclaimed` : ''}`;
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
