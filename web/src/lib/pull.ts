// Per-layer progress of an image pull, folded from the `image.pull` events the master publishes
// while `POST /api/images/pull` runs ({operation, image, endpoint, layer, status, current, total}).
// The request does not return the operation id until it ends, so the first event for the same
// image and endpoint after the request started picks the operation and the rest must match it.

export interface LayerProgress {
  id: string;
  status: string;
  current: number | null;
  total: number | null;
  done: boolean;
}

export interface PullState {
  image: string;
  endpoint: string;
  operation: string | null;
  layers: Record<string, LayerProgress>;
  /** Layer ids in the order they appeared. */
  order: string[];
  /** The latest message that is not about a layer ("Pulling from library/alpine", "Digest: …"). */
  message: string | null;
}

export function initialPull(image: string, endpoint: string): PullState {
  return { image, endpoint, operation: null, layers: {}, order: [], message: null };
}

const DONE = /^(pull complete|already exists|download complete)$/i;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Folds one `image.pull` payload in; unrelated events return the state unchanged. */
export function applyPullEvent(state: PullState, p: Record<string, unknown>): PullState {
  if (p.image !== state.image || (state.endpoint && p.endpoint !== state.endpoint)) return state;
  const op = typeof p.operation === 'string' ? p.operation : null;
  if (state.operation && op && op !== state.operation) return state;
  const status = typeof p.status === 'string' ? p.status : '';
  const layer = typeof p.layer === 'string' && p.layer ? p.layer : null;
  const next: PullState = { ...state, operation: state.operation ?? op };
  if (!layer) return { ...next, message: status || state.message };
  const old = state.layers[layer];
  const done = DONE.test(status) || (old?.done ?? false);
  const current = num(p.current) ?? (done ? (old?.total ?? old?.current ?? null) : (old?.current ?? null));
  const total = num(p.total) ?? old?.total ?? null;
  return {
    ...next,
    layers: { ...state.layers, [layer]: { id: layer, status, current, total, done } },
    order: old ? state.order : [...state.order, layer],
  };
}

/** 0–100 for one layer, or null when its size is not known yet. */
export function layerPercent(l: LayerProgress): number | null {
  if (l.done) return 100;
  if (l.total && l.total > 0 && l.current !== null) return Math.min(100, (l.current * 100) / l.total);
  return null;
}

/** Layers done / layers seen, and the bytes where known. */
export function pullSummary(s: PullState): { layers: number; done: number; current: number; total: number } {
  let done = 0;
  let current = 0;
  let total = 0;
  for (const id of s.order) {
    const l = s.layers[id]!;
    if (l.done) done++;
    if (l.total) {
      total += l.total;
      current += l.done ? l.total : Math.min(l.current ?? 0, l.total);
    }
  }
  return { layers: s.order.length, done, current, total };
}
