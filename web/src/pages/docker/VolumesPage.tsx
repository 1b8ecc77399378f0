// Volumes across endpoints, with the containers using each; remove (409 while in use).

import { useMemo, useState, type ReactNode } from 'react';
import { api } from '../../api/client';
import { useVolumes } from '../../api/docker';
import type { Volume } from '../../api/types';
import { useCan } from '../../auth/session';
import { EndpointErrors } from '../../components/data';
import { ConfirmDialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Loading, PageHeader } from '../../components/ui';
import { useUrlParams } from '../../lib/useUrlParams';
import { EndpointSelect } from './ContainersPage';

const KEYS = ['endpoint', 'q'] as const;

export default function VolumesPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const [p, update] = useUrlParams(KEYS);
  const list = useVolumes(p.endpoint);
  const [removing, setRemoving] = useState<Volume | null>(null);
  const [force, setForce] = useState(false);
  const items = useMemo(() => {
    const all = list.data?.items ?? [];
    const n = p.q.toLowerCase();
    return n ? all.filter((v) => v.name.toLowerCase().includes(n) || v.used_by.some((c) => c.toLowerCase().includes(n))) : all;
  }, [list.data, p.q]);

  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (items.length === 0)
    body = (
      <EmptyState icon="database" title={p.q ? 'No matching volumes' : 'No volumes yet'} testId="volumes-empty">
        <p>{p.q ? 'Nothing matches the filter.' : 'Named volumes on the master’s engine and on fused nodes appear here.'}</p>
      </EmptyState>
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table" data-testid="volumes-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Used by</th>
              <th scope="col">Driver</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Mountpoint</th>
              {canOperate ? (
                <th scope="col" className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {items.map((v) => (
              <tr key={`${v.endpoint.id}/${v.name}`} data-testid="volume-row" data-name={v.name}>
                <td>
                  <code className="mono-cell" title={v.name}>
                    {v.name}
                  </code>
                </td>
                <td>
                  {v.used_by.length ? (
                    <span className="label-chips">
                      {v.used_by.map((c) => (
                        <span className="label-chip" key={c}>
                          <span className="label-key">{c}</span>
                        </span>
                      ))}
                    </span>
                  ) : (
                    <Badge tone="neutral">unused</Badge>
                  )}
                </td>
                <td>{v.driver}</td>
                <td>{v.endpoint.name}</td>
                <td>
                  <code className="mono-cell" title={v.mountpoint}>
                    {v.mountpoint}
                  </code>
                </td>
                {canOperate ? (
                  <td className="actions-col">
                    <button type="button" className="icon-btn icon-btn-sm icon-btn-danger" aria-label={`Remove volume ${v.name}`} title="Remove" onClick={() => { setForce(false); setRemoving(v); }} data-testid="volume-remove">
                      <Icon name="trash" size={15} />
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );

  return (
    <div className="page" data-testid="page-volumes">
      <PageHeader title="Volumes" description="Named volumes across the fleet and the containers that mount them." />
      <div className="toolbar toolbar-wrap">
        <div className="search">
          <Icon name="search" size={16} />
          <input type="search" placeholder="Name or container…" aria-label="Filter volumes" value={p.q} onChange={(e) => update({ q: e.target.value })} />
        </div>
        <label className="inline-field">
          <span>Endpoint</span>
          <EndpointSelect value={p.endpoint} onChange={(v) => update({ endpoint: v })} />
        </label>
        {list.data ? <span className="muted small">{items.length} volumes</span> : null}
        {list.isFetching && !list.isPending ? <span className="spinner spinner-sm" aria-label="Refreshing" /> : null}
      </div>
      <EndpointErrors errors={list.data?.errors} />
      {body}
      {removing ? (
        <ConfirmDialog
          title="Remove volume"
          danger
          confirmLabel="Remove volume"
          testId="remove-volume-dialog"
          message={
            <>
              <p>
                Remove <code>{removing.name}</code> from <strong>{removing.endpoint.name}</strong>? Its data is deleted.
                {removing.used_by.length ? ` It is used by ${removing.used_by.join(', ')}.` : ''}
              </p>
              <label className="checkbox">
                <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
                <span>Force</span>
              </label>
            </>
          }
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api.del(`/api/volumes/${encodeURIComponent(removing.name)}`, { query: { endpoint: removing.endpoint.id, force } });
            toast.success(`Volume ${removing.name} removed`);
          }}
        />
      ) : null}
    </div>
  );
}
