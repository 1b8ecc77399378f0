// CPU and memory over time for one node, drawn with uPlot (lazy-loaded with this module only).
// The points are the node's in-memory history (lib/metricsHistory.ts).

import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Sample } from '../../lib/metricsHistory';

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function toData(samples: readonly Sample[]): uPlot.AlignedData {
  return [samples.map((s) => s.t / 1000), samples.map((s) => s.cpu), samples.map((s) => s.mem)];
}

export default function NodeMetricsChart({ samples, height = 220, theme }: { samples: readonly Sample[]; height?: number; theme: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  // (Re)create on theme change: colours come from the CSS variables.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = cssVar('--text-muted', '#888');
    const grid = cssVar('--border', '#333');
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: true }, y: { range: [0, 100] } },
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: (_u, ticks) => ticks.map((t) => `${t}%`), size: 48 },
      ],
      series: [
        {},
        { label: 'CPU', stroke: cssVar('--accent', '#4c8dff'), width: 2, value: (_u, v) => (v === null ? '—' : `${v.toFixed(1)}%`) },
        { label: 'Memory', stroke: cssVar('--ok', '#3fb950'), width: 2, value: (_u, v) => (v === null ? '—' : `${v.toFixed(1)}%`) },
      ],
    };
    const u = new uPlot(opts, toData(samples), el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [height, theme]);

  useEffect(() => {
    plot.current?.setData(toData(samples));
  }, [samples]);

  return <div ref={box} className="uplot-box" data-testid="node-metrics-chart" />;
}
