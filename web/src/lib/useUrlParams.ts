import { useCallback, useEffect, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';

/**
 * List filters and paging kept in the URL (shareable, survive reloads). Changing anything but
 * `offset` goes back to the first page.
 */
export function useUrlParams<K extends string>(keys: readonly K[]): [Record<K, string>, (patch: Partial<Record<K, string>>) => void] {
  const [params, setParams] = useSearchParams();
  const values = useMemo(() => {
    const v = {} as Record<K, string>;
    for (const k of keys) v[k] = params.get(k) ?? '';
    return v;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [params, keys.join(',')]);
  const update = useCallback(
    (patch: Partial<Record<K, string>>) =>
      setParams(
        (p) => {
          const n = new URLSearchParams(p);
          for (const [k, v] of Object.entries(patch) as [string, string | undefined][]) {
            if (v) n.set(k, v);
            else n.delete(k);
          }
          if (!('offset' in patch)) n.delete('offset');
          return n;
        },
        { replace: true },
      ),
    [setParams],
  );
  return [values, update];
}

/** A text box whose value reaches `commit` after the typing pauses. */
export function useDebouncedInput(value: string, commit: (v: string) => void, ms = 250): [string, (v: string) => void] {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const t = window.setTimeout(() => commit(text), ms);
    return () => window.clearTimeout(t);
  }, [text, value, commit, ms]);
  return [text, setText];
}

export function offsetOf(v: string): number {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
