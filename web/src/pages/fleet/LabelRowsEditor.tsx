import { useId } from 'react';
import { Icon } from '../../components/Icon';
import type { LabelRow } from '../../lib/fleet';

/** Key/value rows for labels, with per-row errors from `rowsToLabels`. */
export function LabelRowsEditor({
  rows,
  onChange,
  errors,
  disabled,
}: {
  rows: readonly LabelRow[];
  onChange: (rows: LabelRow[]) => void;
  errors: readonly (string | null)[];
  disabled?: boolean;
}) {
  const base = useId();
  const set = (i: number, patch: Partial<LabelRow>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="list-editor" disabled={disabled} data-testid="labels-editor">
      <legend>Labels</legend>
      {rows.length === 0 ? <p className="muted small">No labels.</p> : null}
      {rows.map((r, i) => (
        <div className="list-editor-row kv-row" key={i}>
          <input
            id={`${base}-k-${i}`}
            aria-label={`Label ${i + 1} key`}
            placeholder="key, e.g. env"
            value={r.key}
            onChange={(e) => set(i, { key: e.target.value })}
            aria-invalid={errors[i] ? true : undefined}
            spellCheck={false}
            data-testid="label-key"
          />
          <span aria-hidden="true" className="muted">
            =
          </span>
          <input
            id={`${base}-v-${i}`}
            aria-label={`Label ${i + 1} value`}
            placeholder="value"
            value={r.value}
            onChange={(e) => set(i, { value: e.target.value })}
            spellCheck={false}
            data-testid="label-value"
          />
          {!disabled ? (
            <button type="button" className="icon-btn" aria-label={`Remove label ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              <Icon name="x" size={16} />
            </button>
          ) : null}
          {errors[i] ? <p className="field-error">{errors[i]}</p> : null}
        </div>
      ))}
      {!disabled ? (
        <button type="button" className="btn btn-sm" onClick={() => onChange([...rows, { key: '', value: '' }])} data-testid="label-add">
          <Icon name="plus" size={14} /> Add label
        </button>
      ) : null}
    </fieldset>
  );
}
