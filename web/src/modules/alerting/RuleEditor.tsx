// The alert-rule editor: checks what it can before sending, then shows the server's verdict
// (including Prometheus' on the PromQL) on the field it names, or above the form otherwise.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { errorMessage } from '../../api/client';
import { Dialog } from '../../components/Dialog';
import { useToast } from '../../components/Toaster';
import { Field, Switch } from '../../components/ui';
import { alertingKeys, createRule, updateRule, type AlertRule, type AlertRuleBody } from './api';
import { errorField, ruleBody, ruleForm, SEVERITIES, type FieldErrors, type RuleField, type RuleForm } from './alerting';

const FIELDS: readonly RuleField[] = ['name', 'expr', 'for', 'severity', 'labels', 'annotations'];

export default function RuleEditor({ rule, onClose }: { rule: AlertRule | null; onClose: () => void }) {
  const toast = useToast();
  const qc = useQueryClient();
  const [form, setForm] = useState<RuleForm>(() => ruleForm(rule));
  const [errors, setErrors] = useState<FieldErrors<RuleField>>({});
  const [formError, setFormError] = useState<string | null>(null);

  const save = useMutation({
    mutationFn: (body: AlertRuleBody) => (rule ? updateRule(rule.id, body) : createRule(body)),
    onSuccess: (saved) => {
      const p = saved.prometheus;
      if (p.refused || p.reloaded === false) {
        toast.show('warning', `Rule ${saved.name} saved`, `Prometheus did not load it: ${p.error ?? 'see its status'}`);
      } else toast.success(`Rule ${saved.name} ${rule ? 'saved' : 'created'}`);
      void qc.invalidateQueries({ queryKey: alertingKeys.rulesAll });
      onClose();
    },
    onError: (e) => {
      const field = errorField(e, FIELDS);
      if (field) setErrors({ [field]: errorMessage(e) });
      else setFormError(errorMessage(e));
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    const { body, errors: problems } = ruleBody(form);
    setErrors(problems);
    if (body) save.mutate(body);
  };

  const set = <K extends keyof RuleForm>(k: K, v: RuleForm[K]) => {
    setForm((f) => ({ ...f, [k]: v }));
    if (k in errors) setErrors((er) => ({ ...er, [k]: undefined }));
  };
  const invalid = (k: RuleField) => (errors[k] ? { 'aria-invalid': true, 'aria-describedby': `rule-${k}-error` } : {});

  return (
    <Dialog
      title={rule ? `Edit rule ${rule.name}` : 'New alert rule'}
      onClose={onClose}
      onSubmit={submit}
      size="lg"
      busy={save.isPending}
      testId="rule-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={save.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={save.isPending} data-testid="rule-submit">
            {save.isPending ? 'Checking with Prometheus…' : rule ? 'Save' : 'Create rule'}
          </button>
        </>
      }
    >
      {formError ? (
        <p className="form-error" role="alert" data-testid="rule-form-error">
          {formError}
        </p>
      ) : null}
      <Field label="Name" htmlFor="rule-name" error={errors.name} hint="The alert's name: letters, digits and _.">
        <input id="rule-name" value={form.name} onChange={(e) => set('name', e.target.value)} data-testid="rule-name" data-autofocus {...invalid('name')} />
      </Field>
      <Field label="Expression (PromQL)" htmlFor="rule-expr" error={errors.expr} hint="The alert fires for every series this returns. Prometheus checks it when you save.">
        <textarea id="rule-expr" className="mono" rows={3} spellCheck={false} value={form.expr} onChange={(e) => set('expr', e.target.value)} data-testid="rule-expr" {...invalid('expr')} />
      </Field>
      <div className="form-row">
        <Field label="For" htmlFor="rule-for" error={errors.for} hint="How long it must hold before firing (0s: at once).">
          <input id="rule-for" value={form.for} onChange={(e) => set('for', e.target.value)} data-testid="rule-for" {...invalid('for')} />
        </Field>
        <Field label="Severity" htmlFor="rule-severity" error={errors.severity}>
          <select id="rule-severity" value={form.severity} onChange={(e) => set('severity', e.target.value)} data-testid="rule-severity" {...invalid('severity')}>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field label="Labels" htmlFor="rule-labels" error={errors.labels} hint="One KEY=value per line, added to the alert.">
        <textarea id="rule-labels" className="mono" rows={2} value={form.labels} onChange={(e) => set('labels', e.target.value)} data-testid="rule-labels" {...invalid('labels')} />
      </Field>
      <Field label="Annotations" htmlFor="rule-annotations" error={errors.annotations} hint="One KEY=value per line (summary, description); templates like {{ $labels.hostname }} work.">
        <textarea id="rule-annotations" className="mono" rows={2} value={form.annotations} onChange={(e) => set('annotations', e.target.value)} data-testid="rule-annotations" {...invalid('annotations')} />
      </Field>
      <div className="switch-row">
        <Switch checked={form.enabled} onChange={(v) => set('enabled', v)} label="Enabled" testId="rule-enabled" />
        <span>Enabled</span>
      </div>
    </Dialog>
  );
}
