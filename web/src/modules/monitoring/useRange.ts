// The concrete window of a picked range: fixed for a custom range; for a preset it ends now and
// moves on every step (every 5 s at most, every minute at least). One window per page, so all its charts share it and
// their query keys stay stable between ticks. The end is now itself, not rounded to the step
// (rounded down it would miss the newest samples, rounded up it could lie beyond Prometheus'
// 5-minute lookback after the last sample), and an evaluation time (queryWindow).

import { useEffect, useState } from 'react';
import { queryWindow, resolveRange, type TimeRange } from './promql';

export function useResolvedRange(range: TimeRange): { start: number; end: number; step: number } {
  const [now, setNow] = useState(() => Date.now() / 1000);
  const live = 'preset' in range;
  const r = resolveRange(range, now);
  const { start, end, step } = queryWindow(r.start, r.end);
  const presetId = live ? range.preset : '';
  useEffect(() => {
    if (!presetId) return;
    setNow(Date.now() / 1000);
    const t = window.setInterval(() => setNow(Date.now() / 1000), Math.min(60, Math.max(5, step)) * 1000);
    return () => window.clearInterval(t);
  }, [presetId, step]);
  return { start, end, step };
}
