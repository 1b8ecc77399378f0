// Hosts: placeholders with their enroll token and fuse state (pending ones included).

import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useState } from 'react';
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
import { pageQuery, ResourceTable, useTableParams, type Column, type RowAction } from '../../components/ResourceTable';
import { Badge, PageHeader, RelativeTime } from '../../components/ui';
import { FUSE_TONE } from '../../lib/fleet';

// The dialog (and its label editor) loads when it opens, not with the page.
const AddHostDialog = lazy(() => import('./AddHostDialog').then((m) => ({ default: m.AddHostDialog })));

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
  const table = useTableParams();
  const list = useHostList(pageQuery(table.params));
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<Host | null>(null);

  const addButton = isAdmin ? (
    <button type="button" className="btn btn-primary" onClick={() => setAdding(true)} data-testid="add-host">
      <Icon name="plus" size={16} /> Add host
    </button>
  ) : null;

  const columns: Column<Host>[] = [
    {
      key: 'name',
      header: 'Host',
      sortValue: (h) => h.name,
      cell: (h) => (
        <Link to={`/hosts/${encodeURIComponent(h.id)}`} className="row-link">
          <strong>{h.name}</strong>
        </Link>
      ),
    },
    {
      key: 'fuse',
      header: 'Fuse state',
      sortValue: (h) => h.fuse.state,
      cell: (h) => (
        <>
          <StateBadge value={h.fuse.state} tones={FUSE_TONE} />
          {!h.fuse.fused && h.fuse.missing.length ? <div className="muted small">missing {h.fuse.missing.join(', ').replace(/_/g, ' ')}</div> : null}
        </>
      ),
    },
    { key: 'hostname', header: 'Hostname', sortValue: (h) => h.hostname, cell: (h) => h.hostname ?? <span className="muted">—</span> },
    { key: 'token', header: 'Enroll token', cell: (h) => <TokenCell host={h} /> },
    { key: 'labels', header: 'Labels', cell: (h) => <LabelChips labels={h.labels} max={3} /> },
    { key: 'created', header: 'Created', sortValue: (h) => h.created_at, cell: (h) => <RelativeTime value={h.created_at} /> },
  ];
  const actions: RowAction<Host>[] = [
    {
      label: (h) => `Delete host ${h.name}`,
      role: 'admin',
      icon: 'trash',
      className: 'btn btn-sm btn-danger-ghost',
      title: 'Delete',
      testId: 'host-delete',
      onClick: setDeleting,
    },
  ];
  const body = (
    <ResourceTable
      query={list}
      state={table}
      columns={columns}
      rowKey={(h) => h.id}
      rowProps={(h) => ({ 'data-testid': 'host-row', 'data-name': h.name })}
      actions={actions}
      empty={{
        icon: 'server',
        title: 'No hosts yet',
        testId: 'hosts-empty',
        body: <p>A host is a machine you want ContextBay to manage. Adding one gives you the command that installs and enrolls its worker.</p>,
      }}
      testId="hosts-table"
    />
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
