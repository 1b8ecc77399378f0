import { useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { api } from '../../api/client';
import { qk } from '../../api/keys';
import type { EndpointRef } from '../../api/types';
import { Dialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { FormError, FormField, useForm } from '../../components/Form';
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
  // Client checks from buildCreateBody; the server's answer names a field by its wire path
  // (`image`, `ports[0].host_port`, `restart_policy`, …), shown where that input is.
  const form = useForm<CreateForm>({
    initial: { ...EMPTY, endpoint: defaultEndpoint },
    validate: (v) => buildCreateBody(v).errors,
    onSubmit: (v) => api.post<{ id: string; endpoint: EndpointRef }>('/api/containers', buildCreateBody(v).body),
    onSuccess: (result, v) => {
      const r = result as { id: string; endpoint: EndpointRef };
      void qc.invalidateQueries({ queryKey: qk.containerLists });
      toast.success(`Container ${v.name.trim() || r.id.slice(0, 12)} created${v.start ? ' and started' : ''}`);
      onClose();
      navigate(containerPath(r.endpoint.id, r.id));
    },
  });
  const f = form.values;
  const set = form.setValue;
  const setPort = (i: number, patch: Partial<PortRow>) => set('ports', f.ports.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const setMount = (i: number, patch: Partial<MountRow>) => set('mounts', f.mounts.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  form.register('ports');
  form.register('mounts');
  form.register('networks');
  form.register('start');
  const portsError = form.errorFor('ports');
  const mountsError = form.errorFor('mounts');
  const invalid = (path: string) => (form.errorFor(path) ? true : undefined);

  return (
    <Dialog
      title="Create container"
      size="lg"
      onClose={onClose}
      busy={form.submitting}
      testId="create-container-dialog"
      onSubmit={() => void form.handleSubmit()}
      footer={
        <>
          <label className="checkbox footer-check">
            <input type="checkbox" checked={f.start} onChange={(e) => set('start', e.target.checked)} data-testid="cc-start" />
            <span>Start after creating</span>
          </label>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="cc-submit">
            {form.submitting ? 'Creating…' : 'Create'}
          </button>
        </>
      }
    >
      <div className="form-grid">
        <FormField form={form} name="image" label="Image" hint="The endpoint must have it: pull it on the Images page first.">
          {(p) => <input {...p} placeholder="nginx:1.27" spellCheck={false} data-autofocus data-testid="cc-image" />}
        </FormField>
        <FormField form={form} name="name" label="Name" hint="Optional; Docker picks one otherwise.">
          {(p) => <input {...p} spellCheck={false} data-testid="cc-name" />}
        </FormField>
        <FormField form={form} name="endpoint" label="Endpoint" hint="Where it runs; the node’s security policy applies.">
          {(p) => <EndpointSelect id={p.id} value={f.endpoint} onChange={(v) => set('endpoint', v)} emptyLabel="Default (the master’s engine)" testId="cc-endpoint" />}
        </FormField>
        <FormField form={form} name="restart_policy" label="Restart policy">
          {(p) => (
            <select {...p} value={f.restartPolicy} onChange={(e) => set('restartPolicy', e.target.value)} data-testid="cc-restart">
              {RESTART_POLICIES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          )}
        </FormField>
      </div>
      <FormField form={form} name="command" label="Command" hint="Replaces the image’s CMD; quotes group words, e.g. sh -c 'echo hi; sleep 600'.">
        {(p) => <input {...p} spellCheck={false} className="mono" data-testid="cc-command" />}
      </FormField>
      <div className="form-grid">
        <FormField form={form} name="env" label="Environment" hint="One KEY=value per line.">
          {(p) => <textarea {...p} rows={3} spellCheck={false} className="mono" data-testid="cc-env" />}
        </FormField>
        <FormField form={form} name="labels" label="Labels" hint="One key=value per line.">
          {(p) => <textarea {...p} rows={3} spellCheck={false} className="mono" data-testid="cc-labels" />}
        </FormField>
      </div>

      <fieldset className="list-editor">
        <legend>Published ports</legend>
        {f.ports.map((r, i) => (
          <div className="list-editor-row port-row" key={i}>
            <input aria-invalid={invalid(`ports[${i}].host_port`)} aria-label={`Port ${i + 1} host port`} placeholder="host port (any)" value={r.host} onChange={(e) => setPort(i, { host: e.target.value })} inputMode="numeric" />
            <span aria-hidden="true">→</span>
            <input aria-invalid={invalid(`ports[${i}].container_port`)} aria-label={`Port ${i + 1} container port`} placeholder="container port" value={r.container} onChange={(e) => setPort(i, { container: e.target.value })} inputMode="numeric" />
            <select aria-label={`Port ${i + 1} protocol`} value={r.protocol} onChange={(e) => setPort(i, { protocol: e.target.value as PortRow['protocol'] })}>
              <option value="tcp">tcp</option>
              <option value="udp">udp</option>
            </select>
            <button type="button" className="icon-btn" aria-label={`Remove port ${i + 1}`} onClick={() => set('ports', f.ports.filter((_, j) => j !== i))}>
              <Icon name="x" size={16} />
            </button>
          </div>
        ))}
        {portsError ? <p className="field-error">{portsError}</p> : null}
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
            <input aria-invalid={invalid(`mounts[${i}].source`)} aria-label={`Mount ${i + 1} source`} placeholder={m.type === 'bind' ? '/host/path' : 'volume name'} value={m.source} onChange={(e) => setMount(i, { source: e.target.value })} spellCheck={false} />
            <span aria-hidden="true">→</span>
            <input aria-invalid={invalid(`mounts[${i}].target`)} aria-label={`Mount ${i + 1} target`} placeholder="/path/in/container" value={m.target} onChange={(e) => setMount(i, { target: e.target.value })} spellCheck={false} />
            <label className="checkbox">
              <input type="checkbox" checked={m.readOnly} onChange={(e) => setMount(i, { readOnly: e.target.checked })} />
              <span>read-only</span>
            </label>
            <button type="button" className="icon-btn" aria-label={`Remove mount ${i + 1}`} onClick={() => set('mounts', f.mounts.filter((_, j) => j !== i))}>
              <Icon name="x" size={16} />
            </button>
          </div>
        ))}
        {mountsError ? <p className="field-error">{mountsError}</p> : null}
        <button type="button" className="btn btn-sm" onClick={() => set('mounts', [...f.mounts, { type: 'volume', source: '', target: '', readOnly: false }])} data-testid="cc-add-mount">
          <Icon name="plus" size={14} /> Add mount
        </button>
      </fieldset>

      <FormField form={form} name="networks" label="Networks" hint="Names, separated by commas; the first is joined at creation. Default: bridge.">
        {(p) => <input {...p} spellCheck={false} data-testid="cc-networks" />}
      </FormField>
      <FormError form={form} />
    </Dialog>
  );
}
