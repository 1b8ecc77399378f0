// Docker endpoints (admin): the master's own engine, fused nodes' engines (agent) and remote
// engines registered here (tcp). Listing probes each one; endpoint.status events keep it live.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { api } from '../../api/client';
import { useEndpoints } from '../../api/docker';
import { qk } from '../../api/keys';
import type { DockerEndpoint, ItemList } from '../../api/types';
import { StateBadge } from '../../components/data';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Field, InlineError, Loading, PageHeader, RelativeTime } from '../../components/ui';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const TONES = { up: 'ok', down: 'bad' } as const;

function AddEndpointDialog({ onClose }: { onClose: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('tcp://');
  const [ca, setCa] = useState('');
  const [cert, setCert] = useState('');
  const [key, setKey] = useState('');
  const [touched, setTouched] = useState(false);
  const plain = url.startsWith('http://');
  const create = useMutation({
    mutationFn: () => api.post<DockerEndpoint>('/api/endpoints', plain ? { name: name.trim(), url: url.trim() } : { name: name.trim(), url: url.trim(), tls: { ca, cert, key } }),
    onSuccess: (e) => {
      qc.setQueryData<ItemList<DockerEndpoint>>(qk.endpoints, (old) => (old ? { ...old, items: [...old.items.filter((x) => x.id !== e.id), e] } : old));
      toast.success(`Endpoint ${e.name} added`, e.status === 'up' ? `Docker ${e.docker_version ?? ''} answered` : `It does not answer yet: ${e.error ?? 'down'}`);
      onClose();
    },
  });
  const nameError = touched && !NAME.test(name.trim()) ? 'Letters, digits, “.”, “_”, “-”; up to 64.' : null;
  const urlError = touched && !/^(tcp|https|http):\/\/[^\s@]+$/.test(url.trim()) ? 'tcp://host:2376, https://host:2376 or http://host:2375.' : null;
  const pem = (v: string) => (touched && !plain && !v.includes('-----BEGIN ') ? 'Paste a PEM block.' : null);
  const ok = NAME.test(name.trim()) && /^(tcp|https|http):\/\/[^\s@]+$/.test(url.trim()) && (plain || [ca, cert, key].every((v) => v.includes('-----BEGIN ')));
  return (
    <Dialog
      title="Add a Docker endpoint"
      onClose={onClose}
      size="lg"
      busy={create.isPending}
      testId="add-endpoint-dialog"
      onSubmit={() => {
        setTouched(true);
        if (ok) create.mutate();
      }}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={create.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={create.isPending} data-testid="add-endpoint-submit">
            {create.isPending ? 'Adding…' : 'Add endpoint'}
          </button>
        </>
      }
    >
      <p className="muted dialog-intro">
        A remote Docker engine reached over TCP. Hosts with a ContextBay worker do not need this: they become <em>agent</em> endpoints when fused.
      </p>
      <div className="form-grid">
        <Field label="Name" htmlFor="ep-name" error={nameError}>
          <input id="ep-name" value={name} onChange={(e) => setName(e.target.value)} data-autofocus spellCheck={false} data-testid="ep-name" />
        </Field>
        <Field label="URL" htmlFor="ep-url" error={urlError} hint="TLS for tcp:// and https://; http:// is unencrypted.">
          <input id="ep-url" value={url} onChange={(e) => setUrl(e.target.value)} spellCheck={false} data-testid="ep-url" />
        </Field>
      </div>
      {plain ? (
        <div className="callout callout-warn" role="note">
          <Icon name="alert" size={18} />
          <div>Anyone on the network path can control this engine over plain HTTP. Prefer TLS.</div>
        </div>
      ) : (
        <>
          <Field label="CA certificate (PEM)" htmlFor="ep-ca" error={pem(ca)} hint="The CA that signed the engine’s certificate.">
            <textarea id="ep-ca" rows={3} value={ca} onChange={(e) => setCa(e.target.value)} className="mono" spellCheck={false} />
          </Field>
          <div className="form-grid">
            <Field label="Client certificate (PEM)" htmlFor="ep-cert" error={pem(cert)}>
              <textarea id="ep-cert" rows={3} value={cert} onChange={(e) => setCert(e.target.value)} className="mono" spellCheck={false} />
            </Field>
            <Field label="Client key (PEM)" htmlFor="ep-key" error={pem(key)} hint="Stored encrypted.">
              <textarea id="ep-key" rows={3} value={key} onChange={(e) => setKey(e.target.value)} className="mono" spellCheck={false} />
            </Field>
          </div>
        </>
      )}
      <InlineError error={create.error} />
    </Dialog>
  );
}

export default function EndpointsPage() {
  const list = useEndpoints();
  const qc = useQueryClient();
  const toast = useToast();
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<DockerEndpoint | null>(null);

  let body: ReactNode;
  if (list.isPending) body = <Loading label="Asking every engine…" />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.items.length === 0)
    body = (
      <EmptyState icon="plug" title="No Docker endpoints" testId="endpoints-empty">
        <p>The master has no Docker engine of its own and no host is fused yet.</p>
      </EmptyState>
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table" data-testid="endpoints-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Docker</th>
              <th scope="col">Address</th>
              <th scope="col">Added</th>
              <th scope="col" className="actions-col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((e) => (
              <tr key={e.id} data-testid="endpoint-row" data-name={e.name}>
                <td>
                  <strong>{e.name}</strong>
                  <div className="muted small mono">{e.id}</div>
                </td>
                <td>
                  <Badge tone={e.kind === 'agent' ? 'info' : 'neutral'}>{e.kind}</Badge>
                </td>
                <td>
                  <StateBadge value={e.status} tones={TONES} />
                  {e.error ? <div className="small text-bad">{e.error}</div> : null}
                </td>
                <td>{e.docker_version ?? <span className="muted">—</span>}</td>
                <td>
                  {e.url ? <code>{e.url}</code> : e.node_id ? <Link to={`/fleet/${encodeURIComponent(e.node_id)}`}>node</Link> : <span className="muted">master socket</span>}
                  {e.tls ? <Badge tone="ok">TLS</Badge> : null}
                </td>
                <td>
                  <RelativeTime value={e.created_at} />
                </td>
                <td className="actions-col">
                  {e.kind === 'tcp' ? (
                    <button type="button" className="icon-btn icon-btn-sm icon-btn-danger" aria-label={`Delete endpoint ${e.name}`} title="Delete" onClick={() => setDeleting(e)} data-testid="endpoint-delete">
                      <Icon name="trash" size={15} />
                    </button>
                  ) : (
                    <span className="muted small" title={e.kind === 'agent' ? 'Belongs to its node: remove the node instead' : 'The master’s own engine'}>
                      built-in
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );

  return (
    <div className="page" data-testid="page-endpoints">
      <PageHeader
        title="Docker endpoints"
        description="The Docker engines ContextBay manages. Status is probed when the list loads."
        actions={
          <>
            <button type="button" className="btn" onClick={() => void list.refetch()} disabled={list.isFetching} data-testid="endpoints-refresh">
              <Icon name="refresh" size={16} /> {list.isFetching ? 'Probing…' : 'Probe again'}
            </button>
            <button type="button" className="btn btn-primary" onClick={() => setAdding(true)} data-testid="add-endpoint">
              <Icon name="plus" size={16} /> Add endpoint
            </button>
          </>
        }
      />
      {body}
      {adding ? <AddEndpointDialog onClose={() => setAdding(false)} /> : null}
      {deleting ? (
        <ConfirmDialog
          title="Delete endpoint"
          danger
          confirmLabel="Delete endpoint"
          testId="delete-endpoint-dialog"
          message={
            <p>
              Stop managing <strong>{deleting.name}</strong>? Nothing on the engine is changed; its containers disappear from ContextBay.
            </p>
          }
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.del(`/api/endpoints/${encodeURIComponent(deleting.id)}`);
            qc.setQueryData<ItemList<DockerEndpoint>>(qk.endpoints, (old) => (old ? { ...old, items: old.items.filter((x) => x.id !== deleting.id) } : old));
            toast.success(`Endpoint ${deleting.name} deleted`);
          }}
        />
      ) : null}
    </div>
  );
}
