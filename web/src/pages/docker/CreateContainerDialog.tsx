import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../../api/client';
import { qk } from '../../api/keys';
import type { EndpointRef } from '../../api/types';
import { Dialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Field, InlineError } from '../../components/ui';
import { buildCreateBody, containerPath, RESTART_POLICIES, type CreateForm, type MountRow, type PortRow } from '../../lib/containers';
import { EndpointSelect } from './ContainersPage';

const EMPTY: CreateForm = {
  endpoint: '',
  image: '',
  name: '',
  command: '',
  env: '',
  ports: [],
  mounts: [],
  networks: '',
  restartPolicy: 'no',
  labels: '',
  start: true,
};

/** Operators and admins: `POST /api/containers`. */
export function CreateContainerDialog({ onClose, defaultEndpoint = '' }: { onClose: () => void; defaultEndpoint?: string }) {
  const qc = useQueryClient();
  const toast = useToast();
  const navigate = useNavigate();
  const [f, setF] = useState<CreateForm>({ ...EMPTY, endpoint: defaultEndpoint });
  const [touched, setTouched] = useState(false);
  const built = buildCreateBody(f);
  const errors = touched ? built.errors : {};
  const set = <K extends keyof CreateForm>(k: K, v: CreateForm[K]) => setF((o) => ({ ...o, [k]: v }));
  const setPort = (i: number, patch: Partial<PortRow>) => set('ports', f.ports.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const setMount = (i: number, patch: Partial<MountRow>) => set('mounts', f.mounts.map((r, j) => (j === i ? { ...r, ...patch } : r)));

  const create = useMutation({
    mutationFn: () => api.post<{ id: string; endpoint: EndpointRef }>('/api/containers', built.body),
    onSuccess: (r) => {
      void qc.invalidateQueries({ queryKey: qk.containerLists });
      toast.success(`Container ${f.name.trim() || r.id.slice(0, 12)} created${f.start ? ' and started' : ''}`);
      onClose();
      navigate(containerPath(r.endpoint.id, r.id));
    },
  });

  return (
    <Dialog
      title="Create container"
      size="lg"
      onClose={onClose}
      busy={create.isPending}
      testId="create-container-dialog"
      onSubmit={() => {
        setTouched(true);
        if (built.body) create.mutate();
      }}
      footer={
        <>
          <label className="checkbox footer-check">
            <input type="checkbox" checked={f.start} onChange={(e) => set('start', e.target.checked)} data-testid="cc-start" />
            <span>Start after creating</span>
          </label>
          <button type="button" className="btn" onClick={onClose} disabled={create.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={create.isPending} data-testid="cc-submit">
            {create.isPending ? 'Creating…' : 'Create'}
          </button>
        </>
      }
    >
      <div className="form-grid">
        <Field label="Image" htmlFor="cc-image" error={errors.image} hint="The endpoint must have it: pull it on the Images page first.">
          <input id="cc-image" value={f.image} onChange={(e) => set('image', e.target.value)} placeholder="nginx:1.27" spellCheck={false} data-autofocus data-testid="cc-image" />
        </Field>
        <Field label="Name" htmlFor="cc-name" error={errors.name} hint="Optional; Docker picks one otherwise.">
          <input id="cc-name" value={f.name} onChange={(e) => set('name', e.target.value)} spellCheck={false} data-testid="cc-name" />
        </Field>
        <Field label="Endpoint" htmlFor="cc-endpoint" hint="Where it runs; the node’s security policy applies.">
          <EndpointSelect id="cc-endpoint" value={f.endpoint} onChange={(v) => set('endpoint', v)} emptyLabel="Default (the master’s engine)" testId="cc-endpoint" />
        </Field>
        <Field label="Restart policy" htmlFor="cc-restart">
          <select id="cc-restart" value={f.restartPolicy} onChange={(e) => set('restartPolicy', e.target.value)} data-testid="cc-restart">
            {RESTART_POLICIES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field label="Command" htmlFor="cc-command" error={errors.command} hint="Replaces the image’s CMD; quotes group words, e.g. sh -c 'echo hi; sleep 600'.">
        <input id="cc-command" value={f.command} onChange={(e) => set('command', e.target.value)} spellCheck={false} className="mono" data-testid="cc-command" />
      </Field>
      <div className="form-grid">
        <Field label="Environment" htmlFor="cc-env" error={errors.env} hint="One KEY=value per line.">
          <textarea id="cc-env" rows={3} value={f.env} onChange={(e) => set('env', e.target.value)} spellCheck={false} className="mono" data-testid="cc-env" />
        </Field>
        <Field label="Labels" htmlFor="cc-labels" error={errors.labels} hint="One key=value per line.">
          <textarea id="cc-labels" rows={3} value={f.labels} onChange={(e) => set('labels', e.target.value)} spellCheck={false} className="mono" data-testid="cc-labels" />
        </Field>
      </div>

      <fieldset className="list-editor">
        <legend>Published ports</legend>
        {f.ports.map((r, i) => (
          <div className="list-editor-row port-row" key={i}>
            <input aria-label={`Port ${i + 1} host port`} placeholder="host port (any)" value={r.host} onChange={(e) => setPort(i, { host: e.target.value })} inputMode="numeric" />
            <span aria-hidden="true">→</span>
            <input aria-label={`Port ${i + 1} container port`} placeholder="container port" value={r.container} onChange={(e) => setPort(i, { container: e.target.value })} inputMode="numeric" />
            <select aria-label={`Port ${i + 1} protocol`} value={r.protocol} onChange={(e) => setPort(i, { protocol: e.target.value as PortRow['protocol'] })}>
              <option value="tcp">tcp</option>
              <option value="udp">udp</option>
            </select>
            <button type="button" className="icon-btn" aria-label={`Remove port ${i + 1}`} onClick={() => set('ports', f.ports.filter((_, j) => j !== i))}>
              <Icon name="x" size={16} />
            </button>
          </div>
        ))}
        {errors.ports ? <p className="field-error">{errors.ports}</p> : null}
        <button type="button" className="btn btn-sm" onClick={() => set('ports', [...f.ports, { host: '', container: '', protocol: 'tcp' }])} data-testid="cc-add-port">
          <Icon name="plus" size={14} /> Add port
        </button>
      </fieldset>

      <fieldset className="list-editor">
        <legend>Mounts</legend>
        {f.mounts.map((m, i) => (
          <div className="list-editor-row mount-row" key={i}>
            <select aria-label={`Mount ${i + 1} type`} value={m.type} onChange={(e) => setMount(i, { type: e.target.value as MountRow['type'] })}>
              <option value="volume">volume</option>
              <option value="bind">bind</option>
            </select>
            <input aria-label={`Mount ${i + 1} source`} placeholder={m.type === 'bind' ? '/host/path' : 'volume name'} value={m.source} onChange={(e) => setMount(i, { source: e.target.value })} spellCheck={false} />
            <span aria-hidden="true">→</span>
            <input aria-label={`Mount ${i + 1} target`} placeholder="/path/in/container" value={m.target} onChange={(e) => setMount(i, { target: e.target.value })} spellCheck={false} />
            <label className="checkbox">
              <input type="checkbox" checked={m.readOnly} onChange={(e) => setMount(i, { readOnly: e.target.checked })} />
              <span>read-only</span>
            </label>
            <button type="button" className="icon-btn" aria-label={`Remove mount ${i + 1}`} onClick={() => set('mounts', f.mounts.filter((_, j) => j !== i))}>
              <Icon name="x" size={16} />
            </button>
          </div>
        ))}
        {errors.mounts ? <p className="field-error">{errors.mounts}</p> : null}
        <button type="button" className="btn btn-sm" onClick={() => set('mounts', [...f.mounts, { type: 'volume', source: '', target: '', readOnly: false }])} data-testid="cc-add-mount">
          <Icon name="plus" size={14} /> Add mount
        </button>
      </fieldset>

      <Field label="Networks" htmlFor="cc-networks" hint="Names, separated by commas; the first is joined at creation. Default: bridge.">
        <input id="cc-networks" value={f.networks} onChange={(e) => set('networks', e.target.value)} spellCheck={false} data-testid="cc-networks" />
      </Field>
      <InlineError error={create.error} />
    </Dialog>
  );
}
