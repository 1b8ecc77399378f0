// Pure helpers for the monitoring pages: time ranges, steps, and Prometheus answers turned into
// chart series and table rows. No React, no fetch: unit-tested in promql.test.ts.

/** A Prometheus API answer (`/api/v1/query`, `/api/v1/query_range`) as the proxy passes it on. */
export interface PromAnswer {
  status: 'success' | 'error';
  data?: PromData;
  error?: string;
  errorType?: string;
  warnings?: string[];
}

export type PromData =
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: [number, string][] }[] }
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] }
  | { resultType: 'scalar' | 'string'; result: [number, string] };

export const RANGE_PRESETS = [
  { id: '15m', label: '15 m', seconds: 15 * 60 },
  { id: '1h', label: '1 h', seconds: 3600 },
  { id: '6h', label: '6 h', seconds: 6 * 3600 },
  { id: '24h', label: '24 h', seconds: 86_400 },
  { id: '7d', label: '7 d', seconds: 7 * 86_400 },
] as const;

export type PresetId = (typeof RANGE_PRESETS)[number]['id'];

/** A range as the pickers hold it: a preset ending now, or fixed ends (epoch seconds). */
export type TimeRange = { preset: PresetId } | { start: number; end: number };

/**
 * The longest custom range: the proxy refuses spans over 31 days, and queryWindow may move the
 * start back by up to a step.
 */
export const MAX_RANGE_SECONDS = 30 * 86_400;
/** Points per series the charts ask for; the proxy allows far more, a chart shows no more. */
export const TARGET_POINTS = 240;

export function isPreset(id: string): id is PresetId {
  return RANGE_PRESETS.some((p) => p.id === id);
}

/** The concrete ends of a range at `now` (epoch seconds). */
export function resolveRange(range: TimeRange, now: number = Date.now() / 1000): { start: number; end: number } {
  if ('preset' in range) {
    const p = RANGE_PRESETS.find((x) => x.id === range.preset) ?? RANGE_PRESETS[1];
    const end = Math.floor(now);
    return { start: end - p.seconds, end };
  }
  return { start: range.start, end: range.end };
}

/** Why a custom range cannot be queried, or null. */
export function rangeError(start: number, end: number): string | null {
  if (!Number.isFinite(start) || !Number.isFinite(end)) return 'give both a start and an end';
  if (end <= start) return 'the end must be after the start';
  if (end - start > MAX_RANGE_SECONDS) return 'the range may be at most 30 days';
  return null;
}

/** Whole-second step giving about `points` points over the range (at least 1 s). */
export function stepFor(start: number, end: number, points = TARGET_POINTS): number {
  return Math.max(1, Math.ceil((end - start) / Math.max(1, points - 1)));
}

/**
 * The window to query: Prometheus evaluates at `start`, `start + step`, … up to `end`, so the
 * start is moved back to make `end` itself an evaluation time. Otherwise the newest point can
 * lie up to a step before `end` (and a fleet that started reporting within the last step shows
 * nothing at all over a long range).
 */
export function queryWindow(start: number, end: number, points = TARGET_POINTS): { start: number; end: number; step: number } {
  const step = stepFor(start, end, points);
  return { start: end - step * Math.ceil((end - start) / step), end, step };
}

/** Range text for the URL: the preset id, or `<start>-<end>` in epoch seconds. */
export function rangeToParam(range: TimeRange): string {
  return 'preset' in range ? range.preset : `${Math.floor(range.start)}-${Math.floor(range.end)}`;
}

export function rangeFromParam(param: string, fallback: PresetId = '1h'): TimeRange {
  if (isPreset(param)) return { preset: param };
  const m = /^(\d+)-(\d+)$/.exec(param);
  if (m) {
    const start = Number(m[1]);
    const end = Number(m[2]);
    if (!rangeError(start, end)) return { start, end };
  }
  return { preset: fallback };
}

export interface ChartSeries {
  label: string;
  /** [epoch seconds, value] pairs in time order. */
  points: [number, number | null][];
}

/** `name{a="1",b="2"}`, the way Prometheus prints a series. */
export function seriesName(metric: Record<string, string>): string {
  const { __name__: name = '', ...rest } = metric;
  const labels = Object.keys(rest)
    .sort()
    .map((k) => `${k}="${rest[k]}"`)
    .join(', ');
  return labels ? `${name}{${labels}}` : name || '{}';
}

function num(v: string): number | null {
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * The series of a range answer, labelled with `label(metric)` (default: the Prometheus
 * notation). Throws with Prometheus' message for an error answer or a non-matrix result.
 */
export function matrixSeries(answer: PromAnswer, label: (m: Record<string, string>) => string = seriesName): ChartSeries[] {
  if (answer.status !== 'success' || !answer.data) throw new Error(answer.error ?? 'Prometheus answered without data');
  if (answer.data.resultType !== 'matrix') {
    throw new Error(`expected a range result (matrix), Prometheus answered a ${answer.data.resultType}`);
  }
  return answer.data.result.map((r) => ({ label: label(r.metric), points: r.values.map(([t, v]) => [t, num(v)]) }));
}

/** uPlot's aligned data: the union of the timestamps, each series with null where it has no point. */
export function alignSeries(series: readonly ChartSeries[]): [number[], ...(number | null)[][]] {
  const times = [...new Set(series.flatMap((s) => s.points.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const y: (number | null)[] = new Array<number | null>(times.length).fill(null);
    for (const [t, v] of s.points) y[index.get(t)!] = v;
    return y;
  });
  return [times, ...ys];
}

export interface InstantRow {
  series: string;
  labels: Record<string, string>;
  value: string;
  time: number;
}

/** The rows of an instant answer (vector, scalar, string; a matrix shows each series' last point). */
export function instantRows(answer: PromAnswer): InstantRow[] {
  if (answer.status !== 'success' || !answer.data) throw new Error(answer.error ?? 'Prometheus answered without data');
  const d = answer.data;
  switch (d.resultType) {
    case 'vector':
      return d.result.map((r) => ({ series: seriesName(r.metric), labels: r.metric, value: r.value[1], time: r.value[0] }));
    case 'matrix':
      return d.result.map((r) => {
        const last = r.values[r.values.length - 1];
        return { series: seriesName(r.metric), labels: r.metric, value: last ? last[1] : '', time: last ? last[0] : 0 };
      });
    case 'scalar':
    case 'string':
      return [{ series: `(${d.resultType})`, labels: {}, value: d.result[1], time: d.result[0] }];
  }
}

/** Escapes a value for a PromQL string literal in double quotes. */
export function promString(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
