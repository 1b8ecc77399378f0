import { describe, expect, it } from 'vitest';
import type { LiveEvent } from '../api/types';
import { describeEvent, eventCategory } from './describe';

const ev = (type: string, payload: Record<string, unknown>): LiveEvent => ({ id: 1, type, ts: '2026-01-01T00:00:00Z', payload });
const NODE = '01a21b88-24ea-76ab-8de3-47834bfe5770';

describe('fleet and Docker event descriptions', () => {
  it('reads like a sentence', () => {
    expect(describeEvent(ev('node.status', { node_id: NODE, hostname: 'db-1', status: 'offline', previous: 'stale' }))).toBe('Node db-1 is offline (was stale)');
    expect(describeEvent(ev('host.enroll_attempt', { host_id: NODE, accepted: false, reason: 'bad_secret', source_ip: '10.0.0.9' }))).toBe(
      'Enrollment refused (bad_secret) from 10.0.0.9',
    );
    expect(describeEvent(ev('host.fused', { host_id: NODE, hostname: 'db-1' }))).toMatch(/^Host db-1 fused/);
    expect(describeEvent(ev('container.update', { node_id: NODE, id: 'a'.repeat(64), action: 'die', attributes: { name: 'web', exitCode: '1' } }))).toBe(
      'Container web die (exit 1)',
    );
    expect(describeEvent(ev('container.removed', { id: 'b'.repeat(64), endpoint: NODE }))).toBe('Container bbbbbbbbbbbb removed from node …fe5770');
    expect(describeEvent(ev('image.pulled', { image: 'alpine:3', endpoint: 'local' }))).toBe('Image alpine:3 pulled on local');
  });

  it('files endpoint and Docker events under fleet', () => {
    expect(eventCategory('endpoint.status')).toBe('fleet');
    expect(eventCategory('host.created')).toBe('fleet');
  });
});
