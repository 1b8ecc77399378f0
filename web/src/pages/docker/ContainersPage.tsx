// Containers across every endpoint: filters and paging on the server, actions by role, state
// kept current by container.* events.

import { useCallback, useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { useContainerList, useEndpointOptions } from '../../api/docker';
import type { Container } from '../../api/types';
import { useCan } from '../../auth/session';
import { EndpointErrors, StateBadge } from '../../components/data';
import { Icon } from '../../components/Icon';
import { EmptyState, ErrorState, Loading, PageHeader, Pagination, RelativeTime } from '../../components/ui';
import { CONTAINER_STATES, containerPath, formatPorts, shortId, STATE_TONE } from '../../lib/containers';
import { offsetOf, useDebouncedInput, useUrlParams } from '../../lib/useUrlParams';
import { ContainerActions } from './containerActions';
import { CreateContainerDialog } from './CreateContainerDialog';

const LIMIT = 50;
const KEYS = ['endpoint', 'name', 'state', 'label', 'offset'] as const;

export function EndpointSelect({
  value,
  onChange,
  id,
  emptyLabel = 'All endpoints',
  testId,
}: {
  value: string;
  onChange: (v: string) => void;
  id?: string;
  /** The choice that sends no endpoint. */
  emptyLabel?: string;
  testId?: string;
}) {
  const { options } = useEndpointOptions();
  const known = options.some((o) => o.id === value);
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
      <option value="">{emptyLabel}</option>
      {!known && value ? <option value={value}>{value}</option> : null}
      {options.map((o) => (
        <option key={o.id} value={o.id}>
          {o.label}
        </option>
      ))}
    </select>
  );
}

function Row({ c, canOperate }: { c: Container; canOperate: boolean }) {
  const ports = formatPorts(c.ports);
  return (
    <tr data-testid="container-row" data-name={c.name} data-state={c.state} data-endpoint={c.endpoint.id}>
      <td>
        <Link to={containerPath(c.endpoint.id, c.id)} className="row-link">
          <strong>{c.name}</strong>
        </Link>
        <div className="muted small mono">{shortId(c.id)}</div>
      </td>
      <td>
        <span data-testid="container-state" aria-live="polite">
          <StateBadge value={c.state} tones={STATE_TONE} />
        </span>
        <div className="muted small">{c.status}</div>
      </td>
      <td>
        <code className="mono-cell" title={c.image}>
          {c.image}
        </code>
      </td>
      <td>
        <span title={`${c.endpoint.kind} endpoint ${c.endpoint.id}`}>{c.endpoint.name}</span>
      </td>
      <td className="small">{ports.length ? ports.join(', ') : <span className="muted">—</span>}</td>
      <td className="nowrap">
        <RelativeTime value={c.created ? new Date(c.created * 1000).toISOString() : null} />
      </td>
      {canOperate ? (
        <td className="actions-col">
          <ContainerActions c={c} compact />
        </td>
      ) : null}
    </tr>
  );
}

export default function ContainersPage() {
  const canOperate = useCan('operator');
  const [p, update] = useUrlParams(KEYS);
  const offset = offsetOf(p.offset);
  const list = useContainerList({ limit: LIMIT, offset, endpoint: p.endpoint, name: p.name, state: p.state, label: p.label });
  const [creating, setCreating] = useState(false);
  const commitName = useCallback((v: string) => update({ name: v }), [update]);
  const commitLabel = useCallback((v: string) => update({ label: v }), [update]);
  const [name, setName] = useDebouncedInput(p.name, commitName);
  const [label, setLabel] = useDebouncedInput(p.label, commitLabel, 500);
  const filtering = !!(p.endpoint || p.name || p.state || p.label);

  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.items.length === 0)
    body = filtering ? (
      <EmptyState icon="search" title="No matching containers" testId="containers-no-match" action={
        <button type="button" className="btn" onClick={() => update({ endpoint: '', name: '', state: '', label: '' })}>
          Clear filters
        </button>
      } />
    ) : (
      <EmptyState icon="box" title="No containers yet" testId="containers-empty">
        <p>Containers on the master’s engine and on fused nodes appear here.</p>
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table className="table" data-testid="containers-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Image</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Ports</th>
                <th scope="col">Created</th>
                {canOperate ? (
                  <th scope="col" className="actions-col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((c) => (
                <Row key={`${c.endpoint.id}/${c.id}`} c={c} canOperate={canOperate} />
              ))}
            </tbody>
          </table>
        </div>
        <Pagination offset={offset} limit={LIMIT} total={list.data.total} onChange={(o) => update({ offset: o ? String(o) : '' })} />
      </>
    );

  return (
    <div className="page" data-testid="page-containers">
      <PageHeader
        title="Containers"
        description="Every container across the fleet’s Docker endpoints, updated live."
        actions={
          canOperate ? (
            <button type="button" className="btn btn-primary" onClick={() => setCreating(true)} data-testid="create-container">
              <Icon name="plus" size={16} /> Create container
            </button>
          ) : null
        }
      />
      <div className="toolbar toolbar-wrap">
        <div className="search">
          <Icon name="search" size={16} />
          <input type="search" placeholder="Name…" aria-label="Filter by name" value={name} onChange={(e) => setName(e.target.value)} data-testid="containers-search" />
        </div>
        <label className="inline-field">
          <span>Endpoint</span>
          <EndpointSelect value={p.endpoint} onChange={(v) => update({ endpoint: v })} testId="containers-endpoint" />
        </label>
        <label className="inline-field">
          <span>State</span>
          <select value={p.state} onChange={(e) => update({ state: e.target.value })} data-testid="containers-state">
            <option value="">Any</option>
            {CONTAINER_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label className="inline-field">
          <span>Label</span>
          <input placeholder="key or key=value" value={label} onChange={(e) => setLabel(e.target.value)} spellCheck={false} data-testid="containers-label" />
        </label>
        {list.data ? <span className="muted small">{list.data.total.toLocaleString()} containers</span> : null}
        {list.isFetching && !list.isPending ? <span className="spinner spinner-sm" aria-label="Refreshing" /> : null}
      </div>
      <EndpointErrors errors={list.data?.errors} />
      {body}
      {creating ? <CreateContainerDialog onClose={() => setCreating(false)} defaultEndpoint={p.endpoint} /> : null}
    </div>
  );
}
