// Stacks: compose projects stored by the master, and projects discovered running on an endpoint
// (adoptable). Status follows the containers live (container.* and stack.update events).

import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { stackRequests, useStackList } from '../../api/stacks';
import type { Stack } from '../../api/types';
import { useCan } from '../../auth/session';
import { ConfirmDialog } from '../../components/Dialog';
import { StateBadge } from '../../components/data';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { pageQuery, ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { Badge, PageHeader, RelativeTime } from '../../components/ui';
import { STACK_STATUS_HINT, STACK_STATUS_TONE, STACK_STATUSES } from '../../lib/stacks';
import { EndpointSelect } from '../docker/ContainersPage';

export const stackPath = (id: string) => `/stacks/${encodeURIComponent(id)}`;

export function StackSource({ s }: { s: Pick<Stack, 'discovered' | 'adopted'> }) {
  if (s.discovered)
    return (
      <span title="Running on the endpoint, not stored by ContextBay: adopt it to manage it">
        <Badge tone="warn">Discovered</Badge>
      </span>
    );
  return s.adopted ? <Badge tone="info">Adopted</Badge> : <Badge>Stored</Badge>;
}

export function ServiceSummary({ s }: { s: Pick<Stack, 'services'> }) {
  if (s.services.length === 0) return <span className="muted">—</span>;
  return (
    <span className="label-chips">
      {s.services.map((svc) => (
        <span key={svc.name} className={`service-chip${svc.containers > 0 && svc.running === svc.containers ? ' service-chip-ok' : ''}`} title={`${svc.running} of ${svc.containers} running`}>
          {svc.name}{' '}
          <span className="muted">
            {svc.running}/{svc.containers}
          </span>
        </span>
      ))}
    </span>
  );
}

/** Adopting a discovered project: confirm, then open the stored stack. */
export function AdoptButton({ s, compact }: { s: Stack; compact?: boolean }) {
  const [open, setOpen] = useState(false);
  const toast = useToast();
  const navigate = useNavigate();
  const adopt = useMutation({
    mutationFn: () => stackRequests.adopt(s.name, s.endpoint.id),
    onSuccess: (d) => {
      toast.success(`Adopted ${d.name}`);
      // The detail page explains where the stored file came from (only this answer says).
      navigate(stackPath(d.id), { state: { adoption: d.adoption ?? null } });
    },
  });
  return (
    <>
      <button type="button" className={compact ? 'btn btn-sm' : 'btn btn-primary'} onClick={() => setOpen(true)} data-testid="stack-adopt" aria-label={`Adopt ${s.name}`}>
        <Icon name="download" size={14} /> Adopt
      </button>
      {open ? (
        <ConfirmDialog
          title="Adopt compose project"
          confirmLabel="Adopt"
          testId="stack-adopt-dialog"
          message={
            <p>
              Store <strong>{s.name}</strong> from <strong>{s.endpoint.name}</strong> as a stack? Its compose file and
              <code> .env</code> are read from the host where readable (otherwise reconstructed from the running containers). Nothing
              is restarted.
            </p>
          }
          onClose={() => setOpen(false)}
          onConfirm={() => adopt.mutateAsync()}
        />
      ) : null}
    </>
  );
}

const COLUMNS: Column<Stack>[] = [
  {
    key: 'name',
    header: 'Name',
    sortValue: (s) => s.name,
    cell: (s) => (
      <>
        <Link to={stackPath(s.id)} className="row-link">
          <strong>{s.name}</strong>
        </Link>
        {s.working_dir ? (
          <div className="muted small mono" title="Working directory on the host">
            {s.working_dir}
          </div>
        ) : null}
      </>
    ),
  },
  {
    key: 'status',
    header: 'Status',
    sortValue: (s) => s.status,
    cell: (s) => (
      <>
        <span data-testid="stack-status" title={STACK_STATUS_HINT[s.status]}>
          <StateBadge value={s.status} tones={STACK_STATUS_TONE} />
        </span>
        {s.containers > 0 ? (
          <div className="muted small">
            {s.running}/{s.containers} running
          </div>
        ) : null}
      </>
    ),
  },
  { key: 'services', header: 'Services', sortValue: (s) => s.services.length, cell: (s) => <ServiceSummary s={s} /> },
  {
    key: 'endpoint',
    header: 'Endpoint',
    sortValue: (s) => s.endpoint.name,
    cell: (s) => <span title={`${s.endpoint.kind} endpoint ${s.endpoint.id}`}>{s.endpoint.name}</span>,
  },
  { key: 'source', header: 'Source', sortValue: (s) => (s.discovered ? 2 : s.adopted ? 1 : 0), cell: (s) => <StackSource s={s} /> },
  {
    key: 'updated',
    header: 'Updated',
    className: 'nowrap',
    sortValue: (s) => s.updated_at,
    cell: (s) => (s.updated_at ? <RelativeTime value={new Date(s.updated_at).toISOString()} /> : <span className="muted">—</span>),
  },
];

export default function StacksPage() {
  const canOperate = useCan('operator');
  const table = useTableParams(['endpoint', 'name', 'status', 'source']);
  const p = { endpoint: '', name: '', status: '', source: '', ...table.params.extra };
  const update = table.update;
  const list = useStackList({ ...pageQuery(table.params), endpoint: p.endpoint, name: p.name, status: p.status, source: p.source });
  const filtering = !!(p.endpoint || p.status);

  return (
    <div className="page" data-testid="page-stacks">
      <PageHeader
        title="Stacks"
        description="Compose projects: stored here and deployed to an endpoint, or discovered running and adoptable."
        actions={
          canOperate ? (
            <Link to="/stacks/new" className="btn btn-primary" data-testid="create-stack">
              <Icon name="plus" size={16} /> New stack
            </Link>
          ) : null
        }
      />
      <ResourceTable
        query={list}
        state={table}
        columns={COLUMNS}
        rowKey={(s) => `${s.endpoint.id}/${s.id}`}
        rowProps={(s) => ({
          'data-testid': 'stack-row',
          'data-name': s.name,
          'data-endpoint': s.endpoint.id,
          'data-status': s.status,
          'data-discovered': s.discovered ? 'true' : undefined,
        })}
        renderActions={{
          role: 'operator',
          render: (s) =>
            s.discovered ? (
              <AdoptButton s={s} compact />
            ) : (
              <Link to={stackPath(s.id)} className="btn btn-sm" aria-label={`Manage ${s.name}`}>
                Manage
              </Link>
            ),
        }}
        filter={{ label: 'Filter by name', placeholder: 'Name…', param: 'name', testId: 'stacks-search' }}
        chips={[
          { param: 'source', value: 'stored', label: 'Stored and adopted' },
          { param: 'source', value: 'discovered', label: 'Discovered' },
        ]}
        filtered={filtering}
        toolbar={
          <>
            <label className="inline-field">
              <span>Endpoint</span>
              <EndpointSelect value={p.endpoint} onChange={(v) => update({ endpoint: v })} testId="stacks-endpoint" />
            </label>
            <label className="inline-field">
              <span>Status</span>
              <select value={p.status} onChange={(e) => update({ status: e.target.value })} data-testid="stacks-status">
                <option value="">Any</option>
                {STACK_STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </label>
          </>
        }
        empty={{
          icon: 'layers',
          title: 'No stacks yet',
          testId: 'stacks-empty',
          body: <p>Compose projects stored here, and those found running on the fleet’s endpoints, appear here.</p>,
          action: canOperate ? (
            <Link to="/stacks/new" className="btn btn-primary" data-testid="create-stack-empty">
              <Icon name="plus" size={16} /> New stack
            </Link>
          ) : null,
          filteredTitle: 'No matching stacks',
          filteredTestId: 'stacks-no-match',
          filteredBody: null,
          filteredAction: (
            <button type="button" className="btn" onClick={() => update({ endpoint: '', name: '', status: '', source: '' })}>
              Clear filters
            </button>
          ),
        }}
        noun="stacks"
        testId="stacks-table"
      />
    </div>
  );
}
