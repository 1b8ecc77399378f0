// The alert-rule editor on the shared form pattern: what can be checked here is checked before
// sending; the server's verdict (Prometheus' on the PromQL too) is shown on the field it names,
// or above the form otherwise.

import { useQueryClient } from '@tanstack/react-query';
import { Dialog } from '../../components/Dialog';
import { FormError, FormField, useForm } from '../../components/Form';
import { useToast } from '../../components/Toaster';
import { Switch } from '../../components/ui';
import { alertingKeys, createRule, updateRule, type AlertRule, type AlertRuleApplied } from './api';
import { ruleBody, ruleForm, SEVERITIES, withField, type RuleField, type RuleForm } from './alerting';

const FIELDS: readonly RuleField[] = ['name', 'expr', 'for', 'severity', 'labels', 'annotations'];

export default function RuleEditor({ rule, onClose }: { rule: AlertRule | null; onClose: () => void }) {
  const toast = useToast();
  const qc = useQueryClient();
  const form = useForm<RuleForm>({
    initial: ruleForm(rule),
    validate: (v) => ruleBody(v).errors as Record<string, string>,
    onSubmit: async (v) => {
      const { body } = ruleBody(v);
      if (!body) throw new Error('the form has errors');
      try {
        return await (rule ? updateRule(rule.id, body) : createRule(body));
      } catch (e) {
        throw withField(e, FIELDS);
      }
    },
    onSuccess: (result) => {
      const saved = result as AlertRuleApplied;
      const p = saved.prometheus;
      if (!p.reloaded || p.loaded === false) {
        toast.show('warning', `Rule ${saved.name} saved`, `Prometheus has not loaded it: ${p.error ?? 'see the targets page for its status'}`);
      } else toast.success(`Rule ${saved.name} ${rule ? 'saved' : 'created'}`);
      void qc.invalidateQueries({ queryKey: alertingKeys.rulesAll });
      onClose();
    },
  });

  return (
    <Dialog
      title={rule ? `Edit rule ${rule.name}` : 'New alert rule'}
      onClose={onClose}
      onSubmit={(e) => void form.handleSubmit(e)}
      size="lg"
      busy={form.submitting}
      testId="rule-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="rule-submit">
            {form.submitting ? 'Checking with Prometheus…' : rule ? 'Save' : 'Create rule'}
          </button>
        </>
      }
    >
      <FormError form={form} />
      <FormField form={form} name="name" label="Name" hint="The alert's name: letters, digits and _.">
        {(p) => <input {...p} data-testid="rule-name" data-autofocus />}
      </FormField>
      <FormField form={form} name="expr" label="Expression (PromQL)" hint="The alert fires for every series this returns. Prometheus checks it when you save.">
        {(p) => <textarea {...p} className="mono" rows={3} spellCheck={false} data-testid="rule-expr" />}
      </FormField>
      <div className="form-row">
        <FormField form={form} name="for" label="For" hint="How long it must hold before firing (0s: at once).">
          {(p) => <input {...p} data-testid="rule-for" />}
        </FormField>
        <FormField form={form} name="severity" label="Severity">
          {(p) => (
            <select {...p} data-testid="rule-severity">
              {SEVERITIES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </FormField>
      </div>
      <FormField form={form} name="labels" label="Labels" hint="One KEY=value per line, added to the alert.">
        {(p) => <textarea {...p} className="mono" rows={2} data-testid="rule-labels" />}
      </FormField>
      <FormField form={form} name="annotations" label="Annotations" hint="One KEY=value per line (summary, description); templates like {{ $labels.hostname }} work.">
        {(p) => <textarea {...p} className="mono" rows={2} data-testid="rule-annotations" />}
      </FormField>
      <div className="switch-row">
        <Switch checked={form.values.enabled} onChange={(v) => form.setValue('enabled', v)} label="Enabled" testId="rule-enabled" disabled={form.submitting} />
        <span>Enabled</span>
      </div>
    </Dialog>
  );
}
