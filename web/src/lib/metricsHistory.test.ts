import { describe, expect, it } from 'vitest';
import type { NodeMetrics } from '../api/types';
import { appendSample, MetricsHistory, percentOf, sampleFromMetrics, sparklinePath } from './metricsHistory';

function metrics(time: string, cpu: number, used = 50, total = 100): NodeMetrics {
  return {
    time,
    cpu_percent: cpu,
    cpu_cores: 2,
    memory_used_bytes: used,
    memory_total_bytes: total,
    memory_available_bytes: total - used,
    memory_cgroup_limited: false,
    load: [0, 0, 0],
    uptime_secs: 1,
    disks: [],
    networks: [],
    docker_available: true,
    containers: [],
  };
}

describe('metrics history', () => {
  it('percentOf guards zero and missing totals', () => {
    expect(percentOf(25, 100)).toBe(25);
    expect(percentOf(5, 0)).toBeNull();
    expect(percentOf(undefined, 10)).toBeNull();
    expect(percentOf(200, 100)).toBe(100);
  });

  it('turns a metrics sample into a point', () => {
    expect(sampleFromMetrics(metrics('2026-01-01T00:00:10Z', 12.5, 1, 4))).toEqual({ t: Date.parse('2026-01-01T00:00:10Z'), cpu: 12.5, mem: 25 });
    expect(sampleFromMetrics(null)).toBeNull();
    expect(sampleFromMetrics({ ...metrics('nope', 1) })).toBeNull();
  });

  it('appends in time order, ignores repeats and keeps the cap', () => {
    let h = appendSample([], { t: 1, cpu: 1, mem: 1 });
    const same = appendSample(h, { t: 1, cpu: 9, mem: 9 });
    expect(same).toBe(h);
    expect(appendSample(h, { t: 0, cpu: 9, mem: 9 })).toBe(h);
    for (let t = 2; t <= 10; t++) h = appendSample(h, { t, cpu: t, mem: t }, 5);
    expect(h.map((s) => s.t)).toEqual([6, 7, 8, 9, 10]);
  });

  it('records per node and notifies only on new samples', () => {
    const store = new MetricsHistory(3);
    let calls = 0;
    store.subscribe(() => calls++);
    expect(store.record('a', metrics('2026-01-01T00:00:00Z', 10))).toBe(true);
    expect(store.record('a', metrics('2026-01-01T00:00:00Z', 10))).toBe(false);
    expect(store.record('a', metrics('2026-01-01T00:00:10Z', 20))).toBe(true);
    expect(store.record('b', null)).toBe(false);
    expect(calls).toBe(2);
    expect(store.get('a').map((s) => s.cpu)).toEqual([10, 20]);
    expect(store.get('b')).toEqual([]);
    // stable identity between reads (useSyncExternalStore)
    expect(store.get('a')).toBe(store.get('a'));
  });

  it('draws a sparkline path, breaking at gaps', () => {
    expect(sparklinePath([], 100, 20)).toBe('');
    expect(sparklinePath([50], 100, 20)).toBe('M0 10L100 10');
    expect(sparklinePath([0, 100], 100, 20)).toBe('M0 19L100 1');
    const gap = sparklinePath([10, null, 10, 10], 30, 20);
    expect(gap.match(/M/g)).toHaveLength(2);
  });
});
