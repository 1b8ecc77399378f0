import { describe, expect, it } from 'vitest';
import { describeEvent, eventCategory } from './describe';
import { formatBytes, formatDuration, localInputToRfc3339, relativeTime } from './format';
import { hasRole, rolesUpTo } from './roles';

describe('format', () => {
  it('formats bytes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(48 * 1024 * 1024)).toBe('48 MiB');
    expect(formatBytes(1.5 * 1024)).toBe('1.5 KiB');
    expect(formatBytes(undefined)).toBe('—');
    expect(formatDuration(93784)).toBe('1d 2h 3m');
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(3600)).toBe('1h 0m');
  });

  it('formats relative times', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(relativeTime('2026-01-01T11:59:50Z', now)).toBe('just now');
    expect(relativeTime(null, now)).toBe('—');
    expect(relativeTime('2026-01-01T11:00:00Z', now)).toMatch(/1/);
  });

  it('converts datetime-local input to RFC 3339', () => {
    expect(localInputToRfc3339('')).toBe('');
    expect(localInputToRfc3339('2026-01-01T10:00')).toMatch(/^2026-01-01T\d\d:00:00\.000Z$/);
  });
});

describe('roles', () => {
  it('orders admin ⊇ operator ⊇ viewer', () => {
    expect(hasRole('admin', 'operator')).toBe(true);
    expect(hasRole('operator', 'operator')).toBe(true);
    expect(hasRole('viewer', 'operator')).toBe(false);
    expect(hasRole(undefined, 'viewer')).toBe(false);
    expect(rolesUpTo('operator')).toEqual(['operator', 'viewer']);
  });
});

describe('describeEvent', () => {
  const e = (type: string, payload: Record<string, unknown>) => ({ id: 1, type, ts: '', payload });
  it('describes known events', () => {
    expect(describeEvent(e('user.created', { username: 'bob' }))).toBe('User bob created');
    expect(describeEvent(e('user.updated', { user: { username: 'bob', role: 'operator' } }))).toBe(
      'User bob updated (role operator)',
    );
    expect(describeEvent(e('apikey.revoked', { name: 'ci' }))).toBe('API key ci revoked');
    expect(describeEvent(e('auth.login', { username: 'amy', source_ip: '10.0.0.1' }))).toBe('amy signed in from 10.0.0.1');
    expect(describeEvent(e('node.status', { node_id: 'n1', status: 'stale' }))).toBe('Node n1 is stale');
    expect(describeEvent(e('stack.deployed', { name: 'web' }))).toBe('Stack web deployed');
  });
  it('categorises', () => {
    expect(eventCategory('container.update')).toBe('fleet');
    expect(eventCategory('module.updated')).toBe('settings');
    expect(eventCategory('weird')).toBe('other');
  });
});
