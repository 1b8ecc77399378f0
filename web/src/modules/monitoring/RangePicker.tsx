// Range picker of the monitoring pages: presets ending now (15 m … 7 d) and a custom range with
// its ends validated before anything is queried.

import { useState } from 'react';
import { rfc3339ToLocalInput } from '../../lib/format';
import { RANGE_PRESETS, rangeError, resolveRange, type TimeRange } from './promql';

/** `datetime-local` value (local time, minutes) for epoch seconds. */
const toLocalInput = (sec: number) => rfc3339ToLocalInput(new Date(sec * 1000).toISOString());

function fromLocalInput(v: string): number {
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? NaN : Math.floor(t / 1000);
}

export default function RangePicker({ value, onChange }: { value: TimeRange; onChange: (r: TimeRange) => void }) {
  const [custom, setCustom] = useState<{ start: string; end: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const active = 'preset' in value ? value.preset : 'custom';

  const openCustom = () => {
    const { start, end } = resolveRange(value);
    setCustom({ start: toLocalInput(start), end: toLocalInput(end) });
    setError(null);
  };

  const apply = () => {
    if (!custom) return;
    const start = fromLocalInput(custom.start);
    const end = fromLocalInput(custom.end);
    const problem = rangeError(start, end);
    setError(problem);
    if (!problem) {
      onChange({ start, end });
      setCustom(null);
    }
  };

  return (
    <div className="range-picker" data-testid="range-picker">
      <div className="segmented" role="group" aria-label="Time range">
        {RANGE_PRESETS.map((p) => (
          <button
            key={p.id}
            type="button"
                        aria-pressed={active === p.id}
            data-testid={`range-${p.id}`}
            onClick={() => {
              setCustom(null);
              onChange({ preset: p.id });
            }}
          >
            {p.label}
          </button>
        ))}
        <button
          type="button"
                    aria-pressed={active === 'custom'}
          aria-expanded={custom !== null}
          data-testid="range-custom"
          onClick={openCustom}
        >
          Custom
        </button>
      </div>
      {custom ? (
        <div className="range-custom" data-testid="range-custom-form">
          <label className="inline-field">
            <span>From</span>
            <input type="datetime-local" value={custom.start} onChange={(e) => setCustom({ ...custom, start: e.target.value })} data-testid="range-start" aria-invalid={error ? true : undefined} />
          </label>
          <label className="inline-field">
            <span>To</span>
            <input type="datetime-local" value={custom.end} onChange={(e) => setCustom({ ...custom, end: e.target.value })} data-testid="range-end" aria-invalid={error ? true : undefined} />
          </label>
          <button type="button" className="btn btn-sm btn-primary" onClick={apply} data-testid="range-apply">
            Apply
          </button>
          <button type="button" className="btn btn-sm" onClick={() => setCustom(null)}>
            Cancel
          </button>
          {error ? (
            <span className="field-error" role="alert" data-testid="range-error">
              {error}
            </span>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
