import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../../api/client';
import { rememberToken } from '../../api/fleet';
import { qk } from '../../api/keys';
import type { HostWithToken } from '../../api/types';
import { Dialog } from '../../components/Dialog';
import { Field, InlineError } from '../../components/ui';
import { rowsToLabels, type LabelRow } from '../../lib/fleet';
import { LabelRowsEditor } from './LabelRowsEditor';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Admin: creates a host placeholder and opens its page, where the one-time token is shown. */
export function AddHostDialog({ onClose }: { onClose: () => void }) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [rows, setRows] = useState<LabelRow[]>([]);
  const [touched, setTouched] = useState(false);
  const parsed = rowsToLabels(rows);

  const create = useMutation({
    mutationFn: () => api.post<HostWithToken>('/api/hosts', { name: name.trim(), labels: parsed.labels }),
    onSuccess: (h) => {
      rememberToken(h.id, h.enroll_token, h.install_snippet);
      // Cache the host without the secret.
      const { enroll_token: _t, ...host } = h;
      qc.setQueryData(qk.host(h.id), { ...host, install_snippet: host.install_snippet.replace(h.enroll_token, '<ENROLL_TOKEN>') });
      void qc.invalidateQueries({ queryKey: qk.hostLists });
      onClose();
      navigate(`/hosts/${encodeURIComponent(h.id)}`);
    },
  });

  const nameError = touched && !NAME.test(name.trim()) ? 'Letters, digits, “.”, “_” and “-”, up to 64 characters.' : null;

  return (
    <Dialog
      title="Add a host"
      onClose={onClose}
      busy={create.isPending}
      testId="add-host-dialog"
      onSubmit={() => {
        setTouched(true);
        if (NAME.test(name.trim()) && parsed.ok) create.mutate();
      }}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={create.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={create.isPending} data-testid="add-host-submit">
            {create.isPending ? 'Creating…' : 'Create host and token'}
          </button>
        </>
      }
    >
      <p className="muted dialog-intro">
        ContextBay creates a placeholder and a one-time enroll token. Run the install command it shows on the host; the worker enrolls,
        registers and the host is fused once its Docker engine answers.
      </p>
      <Field label="Name" htmlFor="ah-name" error={nameError} hint="How the host is called here, e.g. “db-1”.">
        <input id="ah-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" spellCheck={false} data-autofocus data-testid="add-host-name" />
      </Field>
      <LabelRowsEditor rows={rows} onChange={setRows} errors={parsed.errors} />
      <InlineError error={create.error} />
    </Dialog>
  );
}
