// Volumes across endpoints, with the containers using each; remove (409 while in use).

import { useState } from 'react';
import { api } from '../../api/client';
import { useVolumes } from '../../api/docker';
import type { Volume } from '../../api/types';
import { ConfirmDialog } from '../../components/Dialog';
import { pageQuery, ResourceTable, useTableParams, type Column, type RowAction } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Badge, PageHeader } from '../../components/ui';
import { EndpointSelect } from './ContainersPage';

export default function VolumesPage() {
  const toast = useToast();
  const table = useTableParams(['endpoint']);
  const { endpoint } = table.params.extra;
  const list = useVolumes({ endpoint: endpoint ?? '', ...pageQuery(table.params) });
  const [removing, setRemoving] = useState<Volume | null>(null);
  const [force, setForce] = useState(false);

  const columns: Column<Volume>[] = [
    {
      key: 'name',
      header: 'Name',
      sortValue: (v) => v.name,
      cell: (v) => (
        <code className="mono-cell" title={v.name}>
          {v.name}
        </code>
      ),
    },
    {
      key: 'used_by',
      header: 'Used by',
      sortValue: (v) => v.used_by.length,
      cell: (v) =>
        v.used_by.length ? (
          <span className="label-chips">
            {v.used_by.map((c) => (
              <span className="label-chip" key={c}>
                <span className="label-key">{c}</span>
              </span>
            ))}
          </span>
        ) : (
          <Badge tone="neutral">unused</Badge>
        ),
    },
    { key: 'driver', header: 'Driver', sortValue: (v) => v.driver, cell: (v) => v.driver },
    { key: 'endpoint', header: 'Endpoint', sortValue: (v) => v.endpoint.name, cell: (v) => v.endpoint.name },
    {
      key: 'mountpoint',
      header: 'Mountpoint',
      cell: (v) => (
        <code className="mono-cell" title={v.mountpoint}>
          {v.mountpoint}
        </code>
      ),
    },
  ];
  const actions: RowAction<Volume>[] = [
    {
      label: (v) => `Remove volume ${v.name}`,
      title: 'Remove',
      icon: 'trash',
      danger: true,
      testId: 'volume-remove',
      onClick: (v) => {
        setForce(false);
        setRemoving(v);
      },
    },
  ];

  return (
    <div className="page" data-testid="page-volumes">
      <PageHeader title="Volumes" description="Named volumes across the fleet and the containers that mount them." />
      <ResourceTable
        query={list}
        state={table}
        columns={columns}
        rowKey={(v) => `${v.endpoint.id}/${v.name}`}
        rowProps={(v) => ({ 'data-testid': 'volume-row', 'data-name': v.name })}
        actions={actions}
        filter={{ label: 'Filter volumes', placeholder: 'Name or container…', text: (v) => `${v.name} ${v.used_by.join(' ')}` }}
        toolbar={
          <label className="inline-field">
            <span>Endpoint</span>
            <EndpointSelect value={endpoint ?? ''} onChange={(v) => table.update({ endpoint: v })} />
          </label>
        }
        empty={{ icon: 'database', title: 'No volumes yet', filteredTitle: 'No matching volumes', body: <p>Named volumes on the master’s engine and on fused nodes appear here.</p> }}
        noun="volumes"
        testId="volumes-table"
      />
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
