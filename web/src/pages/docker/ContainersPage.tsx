// Containers across every endpoint: filters and paging on the server, actions by role, state
// kept current by container.* events.

import { useCallback, useState } from 'react';
import { Link } from 'react-router';
import { useContainerList, useEndpointOptions } from '../../api/docker';
import type { Container } from '../../api/types';
import { useCan } from '../../auth/session';
import { StateBadge } from '../../components/data';
import { Icon } from '../../components/Icon';
import { pageQuery, ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { PageHeader, RelativeTime } from '../../components/ui';
import { CONTAINER_STATES, containerPath, formatPorts, shortId, STATE_TONE } from '../../lib/containers';
import { useDebouncedInput } from '../../lib/useUrlParams';
import { ContainerActions } from './containerActions';
import { CreateContainerDialog } from './CreateContainerDialog';

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

const COLUMNS: Column<Container>[] = [
  {
    key: 'name',
    header: 'Name',
    sortValue: (c) => c.name,
    cell: (c) => (
      <>
        <Link to={containerPath(c.endpoint.id, c.id)} className="row-link">
          <strong>{c.name}</strong>
        </Link>
        <div className="muted small mono">{shortId(c.id)}</div>
      </>
    ),
  },
  {
    key: 'state',
    header: 'State',
    sortValue: (c) => c.state,
    cell: (c) => (
      <>
        <span data-testid="container-state" aria-live="polite">
          <StateBadge value={c.state} tones={STATE_TONE} />
        </span>
        <div className="muted small">{c.status}</div>
      </>
    ),
  },
  {
    key: 'image',
    header: 'Image',
    sortValue: (c) => c.image,
    cell: (c) => (
      <code className="mono-cell" title={c.image}>
        {c.image}
      </code>
    ),
  },
  {
    key: 'endpoint',
    header: 'Endpoint',
    sortValue: (c) => c.endpoint.name,
    cell: (c) => <span title={`${c.endpoint.kind} endpoint ${c.endpoint.id}`}>{c.endpoint.name}</span>,
  },
  {
    key: 'ports',
    header: 'Ports',
    className: 'small',
    cell: (c) => {
      const ports = formatPorts(c.ports);
      return ports.length ? ports.join(', ') : <span className="muted">—</span>;
    },
  },
  {
    key: 'created',
    header: 'Created',
    className: 'nowrap',
    sortValue: (c) => c.created,
    cell: (c) => <RelativeTime value={c.created ? new Date(c.created * 1000).toISOString() : null} />,
  },
];

export default function ContainersPage() {
  const canOperate = useCan('operator');
  const table = useTableParams(['endpoint', 'name', 'state', 'label']);
  const p = { endpoint: '', name: '', state: '', label: '', ...table.params.extra };
  const update = table.update;
  const list = useContainerList({ ...pageQuery(table.params), endpoint: p.endpoint, name: p.name, state: p.state, label: p.label });
  const [creating, setCreating] = useState(false);
  const commitLabel = useCallback((v: string) => update({ label: v }), [update]);
  const [label, setLabel] = useDebouncedInput(p.label, commitLabel, 500);
  const filtering = !!(p.endpoint || p.state || p.label);

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
      <ResourceTable
        query={list}
        state={table}
        columns={COLUMNS}
        rowKey={(c) => `${c.endpoint.id}/${c.id}`}
        rowProps={(c) => ({ 'data-testid': 'container-row', 'data-name': c.name, 'data-state': c.state, 'data-endpoint': c.endpoint.id })}
        renderActions={{ role: 'operator', render: (c) => <ContainerActions c={c} compact /> }}
        filter={{ label: 'Filter by name', placeholder: 'Name…', param: 'name', testId: 'containers-search' }}
        filtered={filtering}
        toolbar={
          <>
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
          </>
        }
        empty={{
          icon: 'box',
          title: 'No containers yet',
          testId: 'containers-empty',
          body: <p>Containers on the master’s engine and on fused nodes appear here.</p>,
          filteredTitle: 'No matching containers',
          filteredTestId: 'containers-no-match',
          filteredBody: null,
          filteredAction: (
            <button type="button" className="btn" onClick={() => update({ endpoint: '', name: '', state: '', label: '' })}>
              Clear filters
            </button>
          ),
        }}
        noun="containers"
        testId="containers-table"
      />
      {creating ? <CreateContainerDialog onClose={() => setCreating(false)} defaultEndpoint={p.endpoint} /> : null}
    </div>
  );
}
