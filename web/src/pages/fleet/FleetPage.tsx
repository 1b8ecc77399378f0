// Fleet overview: counts by status, totals, and the node list (server-side filters and paging)
// with live status and CPU/memory sparklines.

import { lazy, Suspense, useCallback, useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { useFleetStatus, useNodeList } from '../../api/fleet';
import type { FleetNode, FleetStatus } from '../../api/types';
import { useCan } from '../../auth/session';
import { LabelChips, Meter, Sparkline, StateBadge } from '../../components/data';
import { Icon } from '../../components/Icon';
import { EmptyState, ErrorState, Loading, PageHeader, Pagination, RelativeTime } from '../../components/ui';
import { lastContact, NODE_STATUSES, NODE_STATUS_HELP, NODE_STATUS_TONE } from '../../lib/fleet';
import { formatBytes } from '../../lib/format';
import { percentOf, useNodeHistory } from '../../lib/metricsHistory';
import { offsetOf, useDebouncedInput, useUrlParams } from '../../lib/useUrlParams';

// The dialog (and its label editor) loads when it opens, not with the page.
const AddHostDialog = lazy(() => import('./AddHostDialog').then((m) => ({ default: m.AddHostDialog })));

const LIMIT = 50;
const KEYS = ['q', 'status', 'label', 'offset'] as const;

function StatusCounts({ data, active, onPick }: { data: FleetStatus | undefined; active: string; onPick: (s: string) => void }) {
  const memPct = data ? percentOf(data.memory_used_bytes, data.memory_total_bytes) : null;
  return (
    <div className="stat-grid fleet-stats" data-testid="fleet-status">
      <div className="stat">
        <div className="stat-label">Nodes</div>
        <div className="stat-value" data-testid="fleet-total">
          {data ? data.total : '—'}
        </div>
      </div>
      <div className="stat stat-wide" role="group" aria-label="Nodes by status (click to filter)">
        <div className="stat-label">By status</div>
        <div className="status-counts">
          {NODE_STATUSES.map((s) => {
            const n = data?.by_status?.[s] ?? 0;
            return (
              <button
                key={s}
                type="button"
                className={`status-count status-${NODE_STATUS_TONE[s]}${active === s ? ' status-count-active' : ''}`}
                aria-pressed={active === s}
                title={`${NODE_STATUS_HELP[s]} — ${active === s ? 'show all nodes' : `show only ${s} nodes`}`}
                onClick={() => onPick(active === s ? '' : s)}
                data-testid={`fleet-count-${s}`}
              >
                <span className="status-count-value">{data ? n : '—'}</span>
                <span className="status-count-label">
                  <span className="dot" aria-hidden="true" /> {s}
                </span>
              </button>
            );
          })}
        </div>
      </div>
      <div className="stat">
        <div className="stat-label">CPU cores</div>
        <div className="stat-value">{data ? data.cpu_cores : '—'}</div>
      </div>
      <div className="stat">
        <div className="stat-label">Memory in use</div>
        <div className="stat-value">{data ? formatBytes(data.memory_used_bytes) : '—'}</div>
        <div className="muted small">
          {data ? `of ${formatBytes(data.memory_total_bytes)}${memPct !== null ? ` · ${memPct.toFixed(0)}%` : ''}` : null}
        </div>
      </div>
      <div className="stat">
        <div className="stat-label">Containers running</div>
        <div className="stat-value">{data ? data.containers_running : '—'}</div>
      </div>
    </div>
  );
}

function NodeRow({ n }: { n: FleetNode }) {
  const history = useNodeHistory(n.id);
  const m = n.metrics;
  const mem = m ? percentOf(m.memory_used_bytes, m.memory_total_bytes) : null;
  return (
    <tr data-testid="fleet-row" data-node-id={n.id} data-name={n.name} className={n.status === 'offline' ? 'row-offline' : undefined}>
      <td>
        <Link to={`/fleet/${encodeURIComponent(n.id)}`} className="row-link">
          <strong>{n.name}</strong>
        </Link>
        {n.hostname && n.hostname !== n.name ? <div className="muted small">{n.hostname}</div> : null}
      </td>
      <td>
        <span data-testid="node-status" data-status={n.status}>
          <StateBadge value={n.status} tones={NODE_STATUS_TONE} />
        </span>
        {!n.connected && n.status !== 'offline' ? <div className="muted small">stream closed</div> : null}
      </td>
      <td className="metric-cell" title={n.status === 'offline' && m ? 'Last sample before the node went offline' : undefined}>
        <Meter value={m ? m.cpu_percent : null} label={`CPU of ${n.name}`} detail={m ? `${m.cpu_cores}c` : undefined} />
        <Sparkline samples={history} field="cpu" label={`CPU history of ${n.name}`} />
      </td>
      <td className="metric-cell">
        <Meter value={mem} label={`Memory of ${n.name}`} detail={m ? formatBytes(m.memory_total_bytes) : undefined} />
        <Sparkline samples={history} field="mem" label={`Memory history of ${n.name}`} />
      </td>
      <td>
        <LabelChips labels={n.labels} max={3} />
      </td>
      <td className="nowrap">{n.agent_version ?? <span className="muted">—</span>}</td>
      <td className="nowrap">
        <RelativeTime value={lastContact(n)} fallback="never" />
      </td>
    </tr>
  );
}

export default function FleetPage() {
  const isAdmin = useCan('admin');
  const [p, update] = useUrlParams(KEYS);
  const offset = offsetOf(p.offset);
  const status = useFleetStatus();
  const list = useNodeList({ limit: LIMIT, offset, q: p.q, status: p.status, label: p.label });
  const [adding, setAdding] = useState(false);
  const commitQ = useCallback((v: string) => update({ q: v }), [update]);
  const commitLabel = useCallback((v: string) => update({ label: v.includes('=') || !v ? v : '' }), [update]);
  const [q, setQ] = useDebouncedInput(p.q, commitQ);
  const [label, setLabel] = useDebouncedInput(p.label, commitLabel, 500);
  const filtering = !!(p.q || p.status || p.label);

  const addButton = isAdmin ? (
    <button type="button" className="btn btn-primary" onClick={() => setAdding(true)} data-testid="add-host">
      <Icon name="plus" size={16} /> Add host
    </button>
  ) : null;

  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.items.length === 0 && !filtering)
    body = (
      <EmptyState
        icon="server"
        title="No nodes enrolled yet"
        testId="fleet-empty"
        action={
          isAdmin ? (
            <button type="button" className="btn btn-primary" onClick={() => setAdding(true)} data-testid="add-host-empty">
              <Icon name="plus" size={16} /> Add your first host
            </button>
          ) : null
        }
      >
        <p>
          Add a host: ContextBay gives you a one-time install command for it. The node appears here as soon as its worker reports in.
          {isAdmin ? null : ' Ask an administrator to add one.'}
        </p>
      </EmptyState>
    );
  else if (list.data.items.length === 0)
    body = (
      <EmptyState icon="search" title="No matching nodes" testId="fleet-no-match" action={
        <button type="button" className="btn" onClick={() => update({ q: '', status: '', label: '' })}>
          Clear filters
        </button>
      }>
        <p>No node matches these filters.</p>
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table className="table" data-testid="fleet-table">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Status</th>
                <th scope="col">CPU</th>
                <th scope="col">Memory</th>
                <th scope="col">Labels</th>
                <th scope="col">Agent</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((n) => (
                <NodeRow key={n.id} n={n} />
              ))}
            </tbody>
          </table>
        </div>
        <Pagination offset={offset} limit={LIMIT} total={list.data.total} onChange={(o) => update({ offset: o ? String(o) : '' })} />
      </>
    );

  return (
    <div className="page" data-testid="page-fleet">
      <PageHeader
        title="Fleet"
        description="Docker hosts enrolled in this control plane, their health and load. Status is live; metrics refresh every 10 s."
        actions={
          <>
            <Link to="/hosts" className="btn" data-testid="fleet-hosts-link">
              <Icon name="list" size={16} /> Hosts &amp; enrollment
            </Link>
            {addButton}
          </>
        }
      />
      {status.isError ? null : <StatusCounts data={status.data} active={p.status} onPick={(s) => update({ status: s })} />}
      <div className="toolbar toolbar-wrap">
        <div className="search">
          <Icon name="search" size={16} />
          <input type="search" placeholder="Name or hostname…" aria-label="Search nodes" value={q} onChange={(e) => setQ(e.target.value)} data-testid="fleet-search" />
        </div>
        <label className="inline-field">
          <span>Status</span>
          <select value={p.status} onChange={(e) => update({ status: e.target.value })} data-testid="fleet-status-filter">
            <option value="">Any</option>
            {NODE_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label className="inline-field">
          <span>Label</span>
          <input placeholder="key=value" value={label} onChange={(e) => setLabel(e.target.value)} spellCheck={false} aria-describedby="fleet-label-hint" data-testid="fleet-label-filter" />
        </label>
        <span id="fleet-label-hint" className="sr-only">
          Filter on one label, written key=value
        </span>
        {list.data ? <span className="muted small">{list.data.total.toLocaleString()} nodes</span> : null}
        {list.isFetching && !list.isPending ? <span className="spinner spinner-sm" aria-label="Refreshing" /> : null}
      </div>
      {body}
      {adding ? (
        <Suspense fallback={null}>
          <AddHostDialog onClose={() => setAdding(false)} />
        </Suspense>
      ) : null}
    </div>
  );
}
