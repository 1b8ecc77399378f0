// Creating a silence: matchers (prefilled from an alert when opened from one), a duration and a
// comment; problems are shown on the field they concern, the server's too.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { errorMessage } from '../../api/client';
import { Dialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Field } from '../../components/ui';
import { alertingKeys, createSilence, type Matcher } from './api';
import { errorField, silenceBody, type FieldErrors, type SilenceField, type SilenceForm } from './alerting';

const FIELDS: readonly SilenceField[] = ['matchers', 'duration', 'comment'];
const DURATIONS = ['30m', '1h', '2h', '6h', '1d', '7d'];

const OPS = [
  { op: '=', is_regex: false, is_equal: true },
  { op: '!=', is_regex: false, is_equal: false },
  { op: '=~', is_regex: true, is_equal: true },
  { op: '!~', is_regex: true, is_equal: false },
] as const;
const opOf = (m: Matcher) => OPS.find((o) => o.is_regex === m.is_regex && o.is_equal === m.is_equal)?.op ?? '=';

export default function SilenceDialog({ title, initial, onClose }: { title: string; initial: SilenceForm; onClose: () => void }) {
  const toast = useToast();
  const qc = useQueryClient();
  const [form, setForm] = useState<SilenceForm>(initial);
  const [errors, setErrors] = useState<FieldErrors<SilenceField>>({});
  const [formError, setFormError] = useState<string | null>(null);

  const create = useMutation({
    mutationFn: createSilence,
    onSuccess: (s) => {
      toast.success('Silence created', `until ${new Date(s.ends_at).toLocaleString()}`);
      void qc.invalidateQueries({ queryKey: alertingKeys.silencesAll });
      onClose();
    },
    onError: (e) => {
      const field = errorField(e, FIELDS);
      if (field) setErrors({ [field]: errorMessage(e) });
      else setFormError(errorMessage(e));
    },
  });

  const setMatcher = (i: number, patch: Partial<Matcher>) =>
    setForm((f) => ({ ...f, matchers: f.matchers.map((m, j) => (j === i ? { ...m, ...patch } : m)) }));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    const { body, errors: problems } = silenceBody(form);
    setErrors(problems);
    if (body) create.mutate(body);
  };

  return (
    <Dialog
      title={title}
      onClose={onClose}
      onSubmit={submit}
      size="lg"
      busy={create.isPending}
      testId="silence-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={create.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={create.isPending} data-testid="silence-submit">
            Create silence
          </button>
        </>
      }
    >
      {formError ? (
        <p className="form-error" role="alert" data-testid="silence-form-error">
          {formError}
        </p>
      ) : null}
      <fieldset className={`field matcher-list${errors.matchers ? ' field-invalid' : ''}`} data-testid="silence-matchers">
        <legend>Matchers</legend>
        {form.matchers.map((m, i) => (
          <div className="matcher-row" key={i} data-testid="silence-matcher">
            <input aria-label={`Matcher ${i + 1} label`} value={m.name} onChange={(e) => setMatcher(i, { name: e.target.value })} className="mono" />
            <select aria-label={`Matcher ${i + 1} operator`} value={opOf(m)} onChange={(e) => setMatcher(i, OPS.find((o) => o.op === e.target.value) ?? OPS[0])}>
              {OPS.map((o) => (
                <option key={o.op} value={o.op}>
                  {o.op}
                </option>
              ))}
            </select>
            <input aria-label={`Matcher ${i + 1} value`} value={m.value} onChange={(e) => setMatcher(i, { value: e.target.value })} className="mono" />
            <button
              type="button"
              className="icon-btn icon-btn-sm"
              aria-label={`Remove matcher ${i + 1}`}
              onClick={() => setForm((f) => ({ ...f, matchers: f.matchers.filter((_, j) => j !== i) }))}
            >
              <Icon name="x" size={14} />
            </button>
          </div>
        ))}
        <button
          type="button"
          className="btn btn-sm"
          onClick={() => setForm((f) => ({ ...f, matchers: [...f.matchers, { name: '', value: '', is_regex: false, is_equal: true }] }))}
          data-testid="silence-add-matcher"
        >
          <Icon name="plus" size={14} /> Add matcher
        </button>
        {errors.matchers ? (
          <p className="field-error" data-testid="silence-matchers-error">
            {errors.matchers}
          </p>
        ) : null}
      </fieldset>
      <Field label="Duration" htmlFor="silence-duration" error={errors.duration} hint="From now; e.g. 30m, 2h, 1d.">
        <input
          id="silence-duration"
          list="silence-durations"
          value={form.duration}
          onChange={(e) => setForm({ ...form, duration: e.target.value })}
          aria-invalid={errors.duration ? true : undefined}
          data-testid="silence-duration"
        />
        <datalist id="silence-durations">
          {DURATIONS.map((d) => (
            <option key={d} value={d} />
          ))}
        </datalist>
      </Field>
      <Field label="Comment" htmlFor="silence-comment" error={errors.comment}>
        <textarea
          id="silence-comment"
          rows={2}
          value={form.comment}
          onChange={(e) => setForm({ ...form, comment: e.target.value })}
          aria-invalid={errors.comment ? true : undefined}
          data-testid="silence-comment"
          data-autofocus
        />
      </Field>
    </Dialog>
  );
}
