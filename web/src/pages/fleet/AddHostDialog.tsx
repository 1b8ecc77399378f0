import { useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { api } from '../../api/client';
import { rememberToken } from '../../api/fleet';
import { qk } from '../../api/keys';
import type { HostWithToken } from '../../api/types';
import { Dialog } from '../../components/Dialog';
import { FormError, FormField, useForm } from '../../components/Form';
import { rowsToLabels, type LabelRow } from '../../lib/fleet';
import { LabelRowsEditor } from './LabelRowsEditor';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Admin: creates a host placeholder and opens its page, where the one-time token is shown. */
export function AddHostDialog({ onClose }: { onClose: () => void }) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const form = useForm<{ name: string; rows: LabelRow[] }>({
    initial: { name: '', rows: [] },
    validate: (v) => ({
      name: NAME.test(v.name.trim()) ? undefined : 'Letters, digits, “.”, “_” and “-”, up to 64 characters.',
      labels: rowsToLabels(v.rows).ok ? undefined : 'Fix the labels above.',
    }),
    onSubmit: (v) => api.post<HostWithToken>('/api/hosts', { name: v.name.trim(), labels: rowsToLabels(v.rows).labels }),
    onSuccess: (result) => {
      const h = result as HostWithToken;
      rememberToken(h.id, h.enroll_token, h.install_snippet);
      // Cache the host without the secret.
      const { enroll_token: _t, ...host } = h;
      qc.setQueryData(qk.host(h.id), { ...host, install_snippet: host.install_snippet.replace(h.enroll_token, '<ENROLL_TOKEN>') });
      void qc.invalidateQueries({ queryKey: qk.hostLists });
      onClose();
      navigate(`/hosts/${encodeURIComponent(h.id)}`);
    },
  });
  const parsed = rowsToLabels(form.values.rows);
  form.register('labels');
  const labelsError = form.errorFor('labels');

  return (
    <Dialog
      title="Add a host"
      onClose={onClose}
      busy={form.submitting}
      testId="add-host-dialog"
      onSubmit={() => void form.handleSubmit()}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="add-host-submit">
            {form.submitting ? 'Creating…' : 'Create host and token'}
          </button>
        </>
      }
    >
      <p className="muted dialog-intro">
        ContextBay creates a placeholder and a one-time enroll token. Run the install command it shows on the host; the worker enrolls,
        registers and the host is fused once its Docker engine answers.
      </p>
      <FormField form={form} name="name" label="Name" hint="How the host is called here, e.g. “db-1”.">
        {(p) => <input {...p} autoComplete="off" spellCheck={false} data-autofocus data-testid="add-host-name" />}
      </FormField>
      <LabelRowsEditor rows={form.values.rows} onChange={(rows) => form.setValue('rows', rows)} errors={parsed.errors} />
      {labelsError ? <p className="field-error">{labelsError}</p> : null}
      <FormError form={form} />
    </Dialog>
  );
}
