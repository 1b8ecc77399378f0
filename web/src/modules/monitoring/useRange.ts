// The concrete window of a picked range: fixed for a custom range; for a preset it ends now and
// moves on every step (at least 5 s), aligned to the step so that every chart of a page shares
// the same window and the query keys stay stable between ticks.

import { useEffect, useState } from 'react';
import { resolveRange, stepFor, type TimeRange } from './promql';

export function useResolvedRange(range: TimeRange): { start: number; end: number; step: number } {
  const [now, setNow] = useState(() => Date.now() / 1000);
  const live = 'preset' in range;
  const { start: s0, end: e0 } = resolveRange(range, now);
  const step = stepFor(s0, e0);
  useEffect(() => {
    if (!live) return;
    setNow(Date.now() / 1000);
    const t = window.setInterval(() => setNow(Date.now() / 1000), Math.max(5, step) * 1000);
    return () => window.clearInterval(t);
  }, [live, step]);
  if (!live) return { start: s0, end: e0, step };
  const end = Math.floor(e0 / step) * step;
  return { start: end - (e0 - s0), end, step };
}
