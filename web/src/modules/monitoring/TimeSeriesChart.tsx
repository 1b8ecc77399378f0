// A time-series chart of any number of series, drawn with uPlot the way the node page's
// NodeMetricsChart does (colours from the theme's CSS variables, resize with the box), for the
// PromQL answers of the monitoring pages. Lazy-loaded with these pages only.

import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatBytes } from '../../lib/format';
import { useTheme } from '../../lib/theme';
import type { Unit } from './fleet';
import { alignSeries, type ChartSeries } from './promql';

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** Distinct, theme-independent line colours (the first from the theme's accent). */
const PALETTE = ['#4c8dff', '#3fb950', '#d29922', '#f85149', '#a371f7', '#39c5cf', '#ff7b72', '#7ee787', '#e3b341', '#79c0ff'];

export function formatValue(v: number | null | undefined, unit: Unit | 'number'): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  switch (unit) {
    case 'percent':
      return `${v.toFixed(1)}%`;
    case 'bytes':
      return formatBytes(v);
    case 'bytesPerSecond':
      return `${formatBytes(v)}/s`;
    default:
      return Math.abs(v) >= 1000 || Number.isInteger(v) ? v.toLocaleString(undefined, { maximumFractionDigits: 2 }) : v.toPrecision(4);
  }
}

export default function TimeSeriesChart({
  series,
  unit = 'number',
  height = 220,
  range,
  testId = 'timeseries-chart',
}: {
  series: readonly ChartSeries[];
  unit?: Unit | 'number';
  height?: number;
  /** The queried window (epoch seconds): the x axis spans it even where there are no points. */
  range?: readonly [number, number];
  testId?: string;
}) {
  const [theme] = useTheme();
  const box = useRef<HTMLDivElement>(null);
  const data = useMemo(() => alignSeries(series), [series]);

  // Rebuilt on every answer, theme or unit change: a few series of a few hundred points.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = cssVar('--text-muted', '#888');
    const grid = cssVar('--border', '#333');
    const fmt = (v: number | null) => formatValue(v, unit);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: range ? { time: true, range: () => [range[0], range[1]] } : { time: true }, y: unit === 'percent' ? { range: (_u, _min, max) => [0, Math.max(100, max)] } : {} },
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: (_u, ticks) => ticks.map((t) => fmt(t)), size: 72 },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: i === 0 ? cssVar('--accent', '#4c8dff') : (PALETTE[i % PALETTE.length] ?? '#4c8dff'),
          width: 2,
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => fmt(v),
        })),
      ],
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [theme, unit, height, data, series, range?.[0], range?.[1]]);

  const points = data[0].length;
  return (
    <div
      ref={box}
      className="uplot-box"
      data-testid={testId}
      data-series={series.length}
      data-points={points}
      aria-label={`Chart of ${series.length} series, ${points} points`}
    />
  );
}
