// Stacks: compose projects stored by the master, and projects discovered running on an endpoint
// (adoptable). Status follows the containers live (container.* and stack.update events).

import { useMutation } from '@tanstack/react-query';
import { useCallback, useState, type ReactNode } from 'react';
import { Link, useNavigate } from 'react-router';
import { stackRequests, useStackList } from '../../api/stacks';
import type { Stack } from '../../api/types';
import { useCan } from '../../auth/session';
import { ConfirmDialog } from '../../components/Dialog';
import { EndpointErrors, StateBadge } from '../../components/data';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, Pagination, RelativeTime } from '../../components/ui';
import { STACK_STATUS_HINT, STACK_STATUS_TONE, STACK_STATUSES } from '../../lib/stacks';
import { offsetOf, useDebouncedInput, useUrlParams } from '../../lib/useUrlParams';
import { EndpointSelect } from '../docker/ContainersPage';

const LIMIT = 50;
const KEYS = ['endpoint', 'name', 'status', 'source', 'offset'] as const;

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

function Row({ s, canOperate }: { s: Stack; canOperate: boolean }) {
  return (
    <tr data-testid="stack-row" data-name={s.name} data-endpoint={s.endpoint.id} data-status={s.status} data-discovered={s.discovered || undefined}>
      <td>
        <Link to={stackPath(s.id)} className="row-link">
          <strong>{s.name}</strong>
        </Link>
        {s.working_dir ? <div className="muted small mono" title="Working directory on the host">{s.working_dir}</div> : null}
      </td>
      <td>
        <span data-testid="stack-status" title={STACK_STATUS_HINT[s.status]}>
          <StateBadge value={s.status} tones={STACK_STATUS_TONE} />
        </span>
        {s.containers > 0 ? (
          <div className="muted small">
            {s.running}/{s.containers} running
          </div>
        ) : null}
      </td>
      <td>
        <ServiceSummary s={s} />
      </td>
      <td>
        <span title={`${s.endpoint.kind} endpoint ${s.endpoint.id}`}>{s.endpoint.name}</span>
      </td>
      <td>
        <StackSource s={s} />
      </td>
      <td className="nowrap">{s.updated_at ? <RelativeTime value={new Date(s.updated_at).toISOString()} /> : <span className="muted">—</span>}</td>
      {canOperate ? (
        <td className="actions-col">
          {s.discovered ? (
            <AdoptButton s={s} compact />
          ) : (
            <Link to={stackPath(s.id)} className="btn btn-sm" aria-label={`Manage ${s.name}`}>
              Manage
            </Link>
          )}
        </td>
      ) : null}
    </tr>
  );
}

export default function StacksPage() {
  const canOperate = useCan('operator');
  const [p, update] = useUrlParams(KEYS);
  const offset = offsetOf(p.offset);
  const list = useStackList({ limit: LIMIT, offset, endpoint: p.endpoint, name: p.name, status: p.status, source: p.source });
  const commitName = useCallback((v: string) => update({ name: v }), [update]);
  const [name, setName] = useDebouncedInput(p.name, commitName);
  const filtering = !!(p.endpoint || p.name || p.status || p.source);

  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.items.length === 0)
    body = filtering ? (
      <EmptyState
        icon="search"
        title="No matching stacks"
        testId="stacks-no-match"
        action={
          <button type="button" className="btn" onClick={() => update({ endpoint: '', name: '', status: '', source: '' })}>
            Clear filters
          </button>
        }
      />
    ) : (
      <EmptyState
        icon="layers"
        title="No stacks yet"
        testId="stacks-empty"
        action={
          canOperate ? (
            <Link to="/stacks/new" className="btn btn-primary" data-testid="create-stack-empty">
              <Icon name="plus" size={16} /> New stack
            </Link>
          ) : null
        }
      >
        <p>Compose projects stored here, and those found running on the fleet’s endpoints, appear here.</p>
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table className="table" data-testid="stacks-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Services</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Source</th>
                <th scope="col">Updated</th>
                {canOperate ? (
                  <th scope="col" className="actions-col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((s) => (
                <Row key={`${s.endpoint.id}/${s.id}`} s={s} canOperate={canOperate} />
              ))}
            </tbody>
          </table>
        </div>
        <Pagination offset={offset} limit={LIMIT} total={list.data.total} onChange={(o) => update({ offset: o ? String(o) : '' })} />
      </>
    );

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
      <div className="toolbar toolbar-wrap">
        <div className="search">
          <Icon name="search" size={16} />
          <input type="search" placeholder="Name…" aria-label="Filter by name" value={name} onChange={(e) => setName(e.target.value)} data-testid="stacks-search" />
        </div>
        <label className="inline-field">
          <span>Endpoint</span>
          <EndpointSelect value={p.endpoint} onChange={(v) => update({ endpoint: v, offset: '' })} testId="stacks-endpoint" />
        </label>
        <label className="inline-field">
          <span>Status</span>
          <select value={p.status} onChange={(e) => update({ status: e.target.value, offset: '' })} data-testid="stacks-status">
            <option value="">Any</option>
            {STACK_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label className="inline-field">
          <span>Source</span>
          <select value={p.source} onChange={(e) => update({ source: e.target.value, offset: '' })} data-testid="stacks-source">
            <option value="">All</option>
            <option value="stored">Stored and adopted</option>
            <option value="discovered">Discovered</option>
          </select>
        </label>
        {list.data ? (
          <span className="muted small">
            {list.data.total.toLocaleString()} stack{list.data.total === 1 ? '' : 's'}
          </span>
        ) : null}
        {list.isFetching && !list.isPending ? <span className="spinner spinner-sm" aria-label="Refreshing" /> : null}
      </div>
      <EndpointErrors errors={list.data?.errors} />
      {body}
    </div>
  );
}
