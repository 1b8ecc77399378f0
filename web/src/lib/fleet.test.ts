import { describe, expect, it } from 'vitest';
import type { NetworkTopology } from '../api/types';
import { describeReason, fuseSteps, labelsToRows, lastContact, rowsToLabels, sameLabels } from './fleet';
import { topologyElements } from './topology';

describe('fuse steps', () => {
  it('follows the host from pending to fused', () => {
    const pending = fuseSteps({ state: 'pending', worker_registered: false, docker_answered: false, fused: false, missing: ['enrollment', 'worker_registration', 'docker_engine'] });
    expect(pending.map((s) => s.done)).toEqual([false, false, false, false]);
    const half = fuseSteps({ state: 'enrolled', worker_registered: true, docker_answered: false, fused: false, missing: ['docker_engine'] });
    expect(half.map((s) => s.done)).toEqual([true, true, false, false]);
    const fused = fuseSteps({ state: 'fused', worker_registered: true, docker_answered: true, fused: true, missing: [] });
    expect(fused.every((s) => s.done)).toBe(true);
  });

  it('explains reason codes, and passes unknown ones through', () => {
    expect(describeReason('bad_secret').label).toBe('Wrong shared secret');
    expect(describeReason('new_reason')).toEqual({ label: 'new reason', hint: '' });
  });
});

describe('labels', () => {
  it('round-trips and validates like the master', () => {
    expect(labelsToRows({ b: '2', a: '1' })).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ]);
    const ok = rowsToLabels([
      { key: 'env', value: 'prod' },
      { key: '', value: '' },
      { key: 'team/x', value: '' },
    ]);
    expect(ok).toEqual({ labels: { env: 'prod', 'team/x': '' }, errors: [null, null, null], ok: true });
    const bad = rowsToLabels([
      { key: 'Env', value: 'x' },
      { key: 'a', value: 'x' },
      { key: 'a', value: 'y' },
      { key: 'b', value: 'v'.repeat(256) },
    ]);
    expect(bad.ok).toBe(false);
    expect(bad.errors.map((e) => (e ? e.split(':')[0]!.split(' ')[0] : null))).toEqual(['Key', null, 'Duplicate', 'Value']);
    expect(sameLabels({ a: '1' }, { a: '1' })).toBe(true);
    expect(sameLabels({ a: '1' }, { a: '2' })).toBe(false);
  });

  it('last contact is the newer of last_seen_at and the metrics sample', () => {
    expect(lastContact({ last_seen_at: '2026-01-01T00:00:00Z', metrics: null })).toBe('2026-01-01T00:00:00Z');
    const m = { time: '2026-01-01T00:05:00Z' } as never;
    expect(lastContact({ last_seen_at: '2026-01-01T00:00:00Z', metrics: m })).toBe('2026-01-01T00:05:00Z');
    expect(lastContact({ last_seen_at: null, metrics: null })).toBeNull();
  });
});

describe('network topology', () => {
  it('keeps edges between known nodes and links containers to their page', () => {
    const t: NetworkTopology = {
      nodes: [
        { id: 'endpoint:local', type: 'endpoint', label: 'local' },
        { id: 'network:local:bridge', type: 'network', label: 'bridge' },
        { id: 'container:local:abc', type: 'container', label: 'web', state: 'running' },
      ],
      edges: [
        { from: 'endpoint:local', to: 'network:local:bridge' },
        { from: 'network:local:bridge', to: 'container:local:abc' },
        { from: 'network:local:bridge', to: 'container:local:abc' },
        { from: 'network:gone:x', to: 'container:local:abc' },
      ],
      errors: [],
    };
    const els = topologyElements(t);
    expect(els.filter((e) => e.group === 'edges')).toHaveLength(2);
    expect(els.find((e) => e.data.id === 'container:local:abc')!.data).toMatchObject({ endpoint: 'local', container: 'abc', state: 'running' });
  });
});
