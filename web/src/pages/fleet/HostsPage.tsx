// Hosts: placeholders with their enroll token and fuse state (pending ones included).

import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { api } from '../../api/client';
import { useHostList } from '../../api/fleet';
import { qk } from '../../api/keys';
import type { Host, Page } from '../../api/types';
import { useCan } from '../../auth/session';
import { LabelChips, StateBadge } from '../../components/data';
import { ConfirmDialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, Pagination, RelativeTime } from '../../components/ui';
import { FUSE_TONE } from '../../lib/fleet';
import { offsetOf, useUrlParams } from '../../lib/useUrlParams';

// The dialog (and its label editor) loads when it opens, not with the page.
const AddHostDialog = lazy(() => import('./AddHostDialog').then((m) => ({ default: m.AddHostDialog })));

const LIMIT = 50;
const KEYS = ['offset'] as const;

export function TokenCell({ host }: { host: Host }) {
  const t = host.token;
  if (!t) return <span className="muted">—</span>;
  if (t.used) return <Badge tone="neutral">used</Badge>;
  if (t.ttl_seconds <= 0) return <Badge tone="bad">expired</Badge>;
  return (
    <span>
      expires <RelativeTime value={t.expires_at} />
    </span>
  );
}

export default function HostsPage() {
  const isAdmin = useCan('admin');
  const qc = useQueryClient();
  const toast = useToast();
  const [p, update] = useUrlParams(KEYS);
  const offset = offsetOf(p.offset);
  const list = useHostList({ limit: LIMIT, offset });
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<Host | null>(null);

  const addButton = isAdmin ? (
    <button type="button" className="btn btn-primary" onClick={() => setAdding(true)} data-testid="add-host">
      <Icon name="plus" size={16} /> Add host
    </button>
  ) : null;

  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.items.length === 0)
    body = (
      <EmptyState icon="server" title="No hosts yet" testId="hosts-empty">
        <p>A host is a machine you want ContextBay to manage. Adding one gives you the command that installs and enrolls its worker.</p>
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table className="table" data-testid="hosts-table">
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">Fuse state</th>
                <th scope="col">Hostname</th>
                <th scope="col">Enroll token</th>
                <th scope="col">Labels</th>
                <th scope="col">Created</th>
                {isAdmin ? (
                  <th scope="col" className="actions-col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((h) => (
                <tr key={h.id} data-testid="host-row" data-name={h.name}>
                  <td>
                    <Link to={`/hosts/${encodeURIComponent(h.id)}`} className="row-link">
                      <strong>{h.name}</strong>
                    </Link>
                  </td>
                  <td>
                    <StateBadge value={h.fuse.state} tones={FUSE_TONE} />
                    {!h.fuse.fused && h.fuse.missing.length ? <div className="muted small">missing {h.fuse.missing.join(', ').replace(/_/g, ' ')}</div> : null}
                  </td>
                  <td>{h.hostname ?? <span className="muted">—</span>}</td>
                  <td>
                    <TokenCell host={h} />
                  </td>
                  <td>
                    <LabelChips labels={h.labels} max={3} />
                  </td>
                  <td>
                    <RelativeTime value={h.created_at} />
                  </td>
                  {isAdmin ? (
                    <td className="actions-col">
                      <button type="button" className="btn btn-sm btn-danger-ghost" onClick={() => setDeleting(h)} aria-label={`Delete host ${h.name}`} data-testid="host-delete">
                        <Icon name="trash" size={16} />
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination offset={offset} limit={LIMIT} total={list.data.total} onChange={(o) => update({ offset: o ? String(o) : '' })} />
      </>
    );

  return (
    <div className="page" data-testid="page-hosts">
      <PageHeader
        title="Hosts"
        description="Machines added to ContextBay, from the one-time enroll token to a fused node. Updates live as workers enroll."
        actions={addButton}
      />
      {body}
      {adding ? (
        <Suspense fallback={null}>
          <AddHostDialog onClose={() => setAdding(false)} />
        </Suspense>
      ) : null}
      {deleting ? (
        <DeleteHostDialog
          host={deleting}
          onClose={() => setDeleting(null)}
          onDeleted={() => {
            qc.setQueriesData<Page<Host>>({ queryKey: qk.hostLists }, (old) =>
              old ? { ...old, items: old.items.filter((x) => x.id !== deleting.id), total: Math.max(0, old.total - 1) } : old,
            );
            toast.success(`Host ${deleting.name} deleted`);
          }}
        />
      ) : null}
    </div>
  );
}

export function DeleteHostDialog({ host, onClose, onDeleted }: { host: Host; onClose: () => void; onDeleted: () => void }) {
  return (
    <ConfirmDialog
      title="Delete host"
      danger
      confirmLabel="Delete host"
      testId="delete-host-dialog"
      message={
        <p>
          Delete <strong>{host.name}</strong>? {host.fuse.state === 'pending' ? 'Its enroll token stops working.' : 'Its node credential is revoked and a connected worker is cut off. Nothing on the host is stopped.'}
        </p>
      }
      onClose={onClose}
      onConfirm={async () => {
        await api.del(`/api/hosts/${encodeURIComponent(host.id)}`);
        onDeleted();
      }}
    />
  );
}
