// Creating a silence on the shared form pattern: matchers (prefilled from an alert when opened
// from one), a duration and a comment; problems are shown on the field they concern, the
// server's too.

import { useQueryClient } from '@tanstack/react-query';
import { Dialog } from '../../components/Dialog';
import { FormError, FormField, useForm } from '../../components/Form';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { alertingKeys, createSilence, type Matcher, type Silence } from './api';
import { silenceBody, withField, type SilenceField, type SilenceForm } from './alerting';

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
  const form = useForm<SilenceForm>({
    initial,
    validate: (v) => silenceBody(v).errors as Record<string, string>,
    onSubmit: async (v) => {
      const { body } = silenceBody(v);
      if (!body) throw new Error('the form has errors');
      try {
        return await createSilence(body);
      } catch (e) {
        throw withField(e, FIELDS);
      }
    },
    onSuccess: (result) => {
      toast.success('Silence created', `until ${new Date((result as Silence).ends_at).toLocaleString()}`);
      void qc.invalidateQueries({ queryKey: alertingKeys.silencesAll });
      onClose();
    },
  });
  form.register('matchers');
  const matchers = form.values.matchers;
  const setMatchers = (next: Matcher[]) => form.setValue('matchers', next);
  const setMatcher = (i: number, patch: Partial<Matcher>) => setMatchers(matchers.map((m, j) => (j === i ? { ...m, ...patch } : m)));
  const matcherError = form.errorFor('matchers');

  return (
    <Dialog
      title={title}
      onClose={onClose}
      onSubmit={(e) => void form.handleSubmit(e)}
      size="lg"
      busy={form.submitting}
      testId="silence-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="silence-submit">
            Create silence
          </button>
        </>
      }
    >
      <FormError form={form} />
      <fieldset className={`field matcher-list${matcherError ? ' field-invalid' : ''}`} data-testid="silence-matchers">
        <legend>Matchers</legend>
        {matchers.map((m, i) => (
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
            <button type="button" className="icon-btn icon-btn-sm" aria-label={`Remove matcher ${i + 1}`} onClick={() => setMatchers(matchers.filter((_, j) => j !== i))}>
              <Icon name="x" size={14} />
            </button>
          </div>
        ))}
        <button type="button" className="btn btn-sm" onClick={() => setMatchers([...matchers, { name: '', value: '', is_regex: false, is_equal: true }])} data-testid="silence-add-matcher">
          <Icon name="plus" size={14} /> Add matcher
        </button>
        {matcherError ? (
          <p className="field-error" data-testid="silence-matchers-error">
            {matcherError}
          </p>
        ) : null}
      </fieldset>
      <FormField form={form} name="duration" label="Duration" hint="From now; e.g. 30m, 2h, 1d.">
        {(p) => (
          <>
            <input {...p} list="silence-durations" data-testid="silence-duration" />
            <datalist id="silence-durations">
              {DURATIONS.map((d) => (
                <option key={d} value={d} />
              ))}
            </datalist>
          </>
        )}
      </FormField>
      <FormField form={form} name="comment" label="Comment">
        {(p) => <textarea {...p} rows={2} data-testid="silence-comment" data-autofocus />}
      </FormField>
    </Dialog>
  );
}
