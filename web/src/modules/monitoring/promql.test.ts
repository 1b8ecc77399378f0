import { describe, expect, it } from 'vitest';
import { fleetPanels } from './fleet';
import { alignSeries, instantRows, matrixSeries, queryWindow, rangeError, rangeFromParam, rangeToParam, resolveRange, seriesName, stepFor, type PromAnswer } from './promql';

describe('ranges', () => {
  it('resolves a preset to a window ending now', () => {
    expect(resolveRange({ preset: '15m' }, 10_000.7)).toEqual({ start: 10_000 - 900, end: 10_000 });
    expect(resolveRange({ preset: '7d' }, 1_000_000)).toEqual({ start: 1_000_000 - 604_800, end: 1_000_000 });
  });
  it('refuses empty, reversed and over-long custom ranges', () => {
    expect(rangeError(100, 100)).toMatch(/after the start/);
    expect(rangeError(200, 100)).toMatch(/after the start/);
    expect(rangeError(NaN, 100)).toMatch(/both/);
    expect(rangeError(0, 30 * 86_400 + 1)).toMatch(/30 days/);
    expect(rangeError(0, 30 * 86_400)).toBeNull();
    const w = queryWindow(0, 30 * 86_400);
    expect(w.end - w.start).toBeLessThanOrEqual(31 * 86_400);
  });
  it('round-trips through the URL and falls back on nonsense', () => {
    expect(rangeFromParam(rangeToParam({ preset: '6h' }))).toEqual({ preset: '6h' });
    expect(rangeFromParam(rangeToParam({ start: 1000, end: 5000 }))).toEqual({ start: 1000, end: 5000 });
    expect(rangeFromParam('5000-1000')).toEqual({ preset: '1h' });
    expect(rangeFromParam('yesterday')).toEqual({ preset: '1h' });
  });
  it('makes the end an evaluation time, moving the start back by less than a step', () => {
    const w = queryWindow(1_000_000 - 21_600, 1_000_000);
    expect(w.step).toBe(91);
    expect(w.end).toBe(1_000_000);
    expect((w.end - w.start) % w.step).toBe(0);
    expect(1_000_000 - 21_600 - w.start).toBeLessThan(w.step);
    expect(w.start).toBeLessThanOrEqual(1_000_000 - 21_600);
  });
  it('keeps the point count near the target and the step at least one second', () => {
    expect(stepFor(0, 60)).toBe(1);
    const step = stepFor(0, 7 * 86_400);
    expect(Math.floor((7 * 86_400) / step) + 1).toBeLessThanOrEqual(240);
  });
});

const matrix: PromAnswer = {
  status: 'success',
  data: {
    resultType: 'matrix',
    result: [
      { metric: { __name__: 'up', instance: 'a' }, values: [[10, '1'], [20, '0']] },
      { metric: { __name__: 'up', instance: 'b' }, values: [[20, '1'], [30, 'NaN']] },
    ],
  },
};

describe('answers', () => {
  it('names series the way Prometheus prints them', () => {
    expect(seriesName({ __name__: 'up', job: 'x', instance: 'a' })).toBe('up{instance="a", job="x"}');
    expect(seriesName({})).toBe('{}');
  });
  it('turns a matrix into aligned chart data with gaps as null', () => {
    const series = matrixSeries(matrix, (m) => m.instance ?? '');
    expect(series.map((s) => s.label)).toEqual(['a', 'b']);
    expect(alignSeries(series)).toEqual([
      [10, 20, 30],
      [1, 0, null],
      [null, 1, null],
    ]);
  });
  it('gives Prometheus\' error message for an error answer and refuses a non-matrix for a chart', () => {
    expect(() => matrixSeries({ status: 'error', error: 'parse error: unexpected }' })).toThrow('parse error: unexpected }');
    expect(() => matrixSeries({ status: 'success', data: { resultType: 'scalar', result: [1, '2'] } })).toThrow(/matrix/);
  });
  it('makes table rows of vectors, scalars and matrices', () => {
    expect(instantRows({ status: 'success', data: { resultType: 'vector', result: [{ metric: { __name__: 'up' }, value: [5, '1'] }] } })).toEqual([
      { series: 'up', labels: { __name__: 'up' }, value: '1', time: 5 },
    ]);
    expect(instantRows({ status: 'success', data: { resultType: 'scalar', result: [5, '42'] } })[0]?.value).toBe('42');
    expect(instantRows(matrix).map((r) => r.value)).toEqual(['0', 'NaN']);
  });
});

describe('fleet panels', () => {
  it('covers CPU, memory, disk and network per node and filters by host with an escaped selector', () => {
    const panels = fleetPanels('nodes', 'web"1');
    expect(panels.map((p) => p.id)).toEqual(['node-cpu', 'node-memory', 'node-disk', 'node-network-rx', 'node-network-tx']);
    expect(panels[0]?.expr).toBe('contextbay_node_cpu_percent{hostname="web\\"1"}');
    expect(fleetPanels('containers').map((p) => p.id)).toEqual([
      'container-cpu',
      'container-memory',
      'container-network-rx',
      'container-network-tx',
      'container-disk-read',
      'container-disk-write',
    ]);
    expect(fleetPanels('containers')[0]?.legend({ hostname: 'h', container: 'c' })).toBe('h/c');
  });
});
