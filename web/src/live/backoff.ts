export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  initialMs: number;
  /** Upper bound of any delay, in ms. */
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2 };

/**
 * Capped exponential backoff with "equal jitter": the delay for retry `attempt` (0-based) is
 * uniformly drawn from [d/2, d] where d = min(max, initial * factor^attempt). Half of the delay
 * is kept so a flapping server is never hammered, the other half spreads a fleet of browsers
 * that all lost the master at once.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exp = opts.initialMs * Math.pow(opts.factor, Math.max(0, attempt));
  const capped = Math.min(opts.maxMs, Number.isFinite(exp) ? exp : opts.maxMs);
  const half = capped / 2;
  return Math.round(half + random() * half);
}
