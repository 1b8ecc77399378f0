// Building blocks for the fleet and Docker pages: sparklines, meters, label chips, JSON, and
// small list editors.

import { useId, type ReactNode } from 'react';
import type { EndpointFailure, Labels } from '../api/types';
import { sparklinePath, type Sample } from '../lib/metricsHistory';
import { Icon } from './Icon';
import { Badge, type Tone } from './ui';

/**
 * An inline-SVG sparkline (no chart library: the fleet list draws one per row, so it must be
 * cheap). Values are 0–100.
 */
export function Sparkline({
  samples,
  field,
  width = 96,
  height = 24,
  label,
}: {
  samples: readonly Sample[];
  field: 'cpu' | 'mem';
  width?: number;
  height?: number;
  label: string;
}) {
  const values = samples.map((s) => s[field]);
  const d = sparklinePath(values, width, height);
  const last = values[values.length - 1];
  const tone = last === null || last === undefined ? '' : last >= 90 ? ' spark-bad' : last >= 75 ? ' spark-warn' : '';
  if (!d) return <span className="spark-empty muted small">collecting…</span>;
  return (
    <svg className={`sparkline${tone}`} width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <path d={`${d}`} fill="none" stroke="currentColor" strokeWidth={1.5} strokeLinejoin="round" strokeLinecap="round" vectorEffect="non-scaling-stroke" />
    </svg>
  );
}

/** A horizontal usage bar with its value, e.g. CPU or memory. */
export function Meter({ value, label, detail }: { value: number | null; label: string; detail?: ReactNode }) {
  if (value === null) return <span className="muted">—</span>;
  const tone = value >= 90 ? 'bad' : value >= 75 ? 'warn' : 'ok';
  return (
    <div className="meter-wrap">
      <div className={`meter meter-${tone}`} role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(value)}>
        <span style={{ width: `${Math.max(1, Math.min(100, value))}%` }} />
      </div>
      <span className="meter-value">
        {value.toFixed(value < 10 ? 1 : 0)}%{detail ? <span className="muted small"> {detail}</span> : null}
      </span>
    </div>
  );
}

export function LabelChips({ labels, max = 4 }: { labels: Labels | Record<string, unknown> | null | undefined; max?: number }) {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return <span className="muted">—</span>;
  const shown = entries.slice(0, max);
  return (
    <span className="label-chips">
      {shown.map(([k, v]) => (
        <span className="label-chip" key={k} title={`${k}=${String(v)}`}>
          <span className="label-key">{k}</span>
          {v !== '' ? <span className="label-value">{String(v)}</span> : null}
        </span>
      ))}
      {entries.length > max ? <span className="muted small">+{entries.length - max}</span> : null}
    </span>
  );
}

export function StateBadge({ value, tones }: { value: string | null | undefined; tones: Record<string, Tone> }) {
  if (!value) return <span className="muted">—</span>;
  return (
    <Badge tone={tones[value.toLowerCase()] ?? 'neutral'} dot>
      {value}
    </Badge>
  );
}

export function JsonBlock({ value, testId, maxHeight }: { value: unknown; testId?: string; maxHeight?: number }) {
  return (
    <pre className="json-block" data-testid={testId} style={maxHeight ? { maxHeight } : undefined} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** Endpoints that did not answer while the master gathered a list. */
export function EndpointErrors({ errors }: { errors: readonly EndpointFailure[] | undefined }) {
  if (!errors || errors.length === 0) return null;
  return (
    <div className="callout callout-warn" role="status" data-testid="endpoint-errors">
      <Icon name="alert" size={18} />
      <div>
        <strong>
          {errors.length === 1 ? 'One endpoint did not answer' : `${errors.length} endpoints did not answer`}; the list may be incomplete.
        </strong>
        <ul className="plain-list">
          {errors.map((e) => (
            <li key={e.endpoint}>
              <code>{e.endpoint}</code>: {e.error}
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}

/** Editable list of strings (one input per item). */
export function StringListEditor({
  label,
  values,
  onChange,
  placeholder,
  disabled,
  errors,
  testId,
}: {
  label: string;
  values: readonly string[];
  onChange: (next: string[]) => void;
  placeholder?: string;
  disabled?: boolean;
  errors?: readonly (string | null)[];
  testId?: string;
}) {
  const base = useId();
  return (
    <fieldset className="list-editor" data-testid={testId} disabled={disabled}>
      <legend>{label}</legend>
      {values.length === 0 ? <p className="muted small">None.</p> : null}
      {values.map((v, i) => (
        <div className="list-editor-row" key={i}>
          <input
            id={`${base}-${i}`}
            aria-label={`${label} ${i + 1}`}
            value={v}
            placeholder={placeholder}
            onChange={(e) => onChange(values.map((x, j) => (j === i ? e.target.value : x)))}
            aria-invalid={errors?.[i] ? true : undefined}
          />
          {!disabled ? (
            <button type="button" className="icon-btn" aria-label={`Remove ${label.toLowerCase()} ${i + 1}`} onClick={() => onChange(values.filter((_, j) => j !== i))}>
              <Icon name="x" size={16} />
            </button>
          ) : null}
          {errors?.[i] ? <p className="field-error">{errors[i]}</p> : null}
        </div>
      ))}
      {!disabled ? (
        <button type="button" className="btn btn-sm" onClick={() => onChange([...values, ''])}>
          <Icon name="plus" size={14} /> Add
        </button>
      ) : null}
    </fieldset>
  );
}
