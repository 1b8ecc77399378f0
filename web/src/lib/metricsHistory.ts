// A short in-memory history of each node's CPU and memory use, for sparklines and the node's
// charts. The master does not publish metrics as events nor keep a history for the dashboard,
// so the samples come from the node queries themselves (the list and the detail refetch on an
// interval, see api/fleet.ts); each distinct `metrics.time` is one point. Nothing persists: a
// reload starts the history again.

import { useSyncExternalStore } from 'react';
import type { NodeMetrics } from '../api/types';

export interface Sample {
  /** Epoch ms of the worker's sample. */
  t: number;
  /** CPU use, 0–100 (of all cores). */
  cpu: number | null;
  /** Memory use, 0–100. */
  mem: number | null;
}

/** Points kept per node (about 10 minutes at one sample per 10 s). */
export const HISTORY_CAP = 60;

export function percentOf(used: number | null | undefined, total: number | null | undefined): number | null {
  if (typeof used !== 'number' || typeof total !== 'number' || !Number.isFinite(used) || !(total > 0)) return null;
  return Math.min(100, Math.max(0, (used * 100) / total));
}

export function sampleFromMetrics(m: NodeMetrics | null | undefined): Sample | null {
  if (!m || typeof m.time !== 'string') return null;
  const t = Date.parse(m.time);
  if (Number.isNaN(t)) return null;
  const cpu = typeof m.cpu_percent === 'number' && Number.isFinite(m.cpu_percent) ? Math.min(100, Math.max(0, m.cpu_percent)) : null;
  return { t, cpu, mem: percentOf(m.memory_used_bytes, m.memory_total_bytes) };
}

/**
 * Appends a sample in time order. The same or an older timestamp is ignored (a refetch that
 * brought no new sample), and the history keeps its identity so that subscribers do not re-render.
 */
export function appendSample(history: readonly Sample[], s: Sample, cap = HISTORY_CAP): readonly Sample[] {
  const last = history[history.length - 1];
  if (last && s.t <= last.t) return history;
  const next = [...history, s];
  return next.length > cap ? next.slice(next.length - cap) : next;
}

/**
 * An SVG path through `values` (0..max) in a `width`×`height` box, oldest at the left. Missing
 * values break the line. Fewer than two points draw a flat segment at the one value.
 */
export function sparklinePath(values: readonly (number | null)[], width: number, height: number, max = 100): string {
  const n = values.length;
  if (n === 0) return '';
  const y = (v: number) => {
    const clamped = Math.min(max, Math.max(0, v));
    return +(height - (clamped / max) * (height - 2) - 1).toFixed(2);
  };
  if (n === 1) {
    const v = values[0];
    return v === null || v === undefined ? '' : `M0 ${y(v)}L${width} ${y(v)}`;
  }
  const step = width / (n - 1);
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${+(i * step).toFixed(2)} ${y(v)}`;
    pen = true;
  });
  return d;
}

type Listener = () => void;
const EMPTY: readonly Sample[] = [];

export class MetricsHistory {
  private readonly byNode = new Map<string, readonly Sample[]>();
  private readonly listeners = new Set<Listener>();

  constructor(private readonly cap = HISTORY_CAP) {}

  /** Records the node's current sample; returns whether it was new. */
  record(nodeId: string, metrics: NodeMetrics | null | undefined): boolean {
    const s = sampleFromMetrics(metrics);
    if (!s) return false;
    const old = this.byNode.get(nodeId) ?? EMPTY;
    const next = appendSample(old, s, this.cap);
    if (next === old) return false;
    this.byNode.set(nodeId, next);
    for (const l of this.listeners) l();
    return true;
  }

  get(nodeId: string): readonly Sample[] {
    return this.byNode.get(nodeId) ?? EMPTY;
  }

  forget(nodeId: string): void {
    if (this.byNode.delete(nodeId)) for (const l of this.listeners) l();
  }

  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
}

/** The application's one history. */
export const nodeHistory = new MetricsHistory();

export function useNodeHistory(nodeId: string): readonly Sample[] {
  return useSyncExternalStore(nodeHistory.subscribe, () => nodeHistory.get(nodeId));
}
