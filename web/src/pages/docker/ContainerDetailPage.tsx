// One container: overview, inspect JSON, one-shot logs. Live follow and the terminal need the
// master's /logs/ws and /exec/ws, which are not there yet: their controls are present, disabled
// and say so.

import { useMemo, useState, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { isApiError } from '../../api/client';
import { useContainer, useContainerInspect, useContainerLogs } from '../../api/docker';
import { useCan } from '../../auth/session';
import { JsonBlock, LabelChips, StateBadge } from '../../components/data';
import { Icon } from '../../components/Icon';
import { TabPanel, Tabs } from '../../components/Tabs';
import { EmptyState, ErrorState, Loading, PageHeader, RelativeTime } from '../../components/ui';
import { formatPorts, STATE_TONE } from '../../lib/containers';
import { formatDateTime } from '../../lib/format';
import { useUrlParams } from '../../lib/useUrlParams';
import { ContainerActions } from './containerActions';

type Tab = 'overview' | 'inspect' | 'logs' | 'terminal';
const KEYS = ['tab'] as const;
const TAILS = [100, 500, 1000, 5000];

const FOLLOW_SOON = 'Live follow arrives with the master’s log stream (/logs/ws), which is not available yet. Use Refresh meanwhile.';
const TERMINAL_SOON = 'The terminal arrives with the master’s exec stream (/exec/ws), which is not available yet.';

function Logs({ endpoint, id }: { endpoint: string; id: string }) {
  const [tail, setTail] = useState(500);
  const [q, setQ] = useState('');
  const [timestamps, setTimestamps] = useState(false);
  const logs = useContainerLogs(endpoint, id, tail);
  const lines = useMemo(() => {
    const all = logs.data?.items ?? [];
    if (!q) return all;
    const n = q.toLowerCase();
    return all.filter((l) => l.line.toLowerCase().includes(n));
  }, [logs.data, q]);

  return (
    <section className="card logs-card" aria-labelledby="logs-h">
      <div className="card-header toolbar-wrap">
        <h2 id="logs-h" className="card-title">
          Logs
        </h2>
        <div className="row-actions">
          <div className="search search-sm">
            <Icon name="search" size={14} />
            <input type="search" placeholder="Search lines…" aria-label="Search log lines" value={q} onChange={(e) => setQ(e.target.value)} data-testid="logs-search" />
          </div>
          <label className="inline-field">
            <span>Last</span>
            <select value={tail} onChange={(e) => setTail(Number(e.target.value))} data-testid="logs-tail">
              {TAILS.map((t) => (
                <option key={t} value={t}>
                  {t} lines
                </option>
              ))}
            </select>
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.target.checked)} />
            <span>Timestamps</span>
          </label>
          <span className="follow-toggle" title={FOLLOW_SOON} data-testid="logs-follow-wrap">
            <label className="checkbox is-disabled">
              <input type="checkbox" disabled aria-describedby="follow-soon" data-testid="logs-follow" />
              <span>
                Follow <span className="muted small">(soon)</span>
              </span>
            </label>
            <span id="follow-soon" className="sr-only">
              {FOLLOW_SOON}
            </span>
          </span>
          <button type="button" className="btn btn-sm" onClick={() => void logs.refetch()} disabled={logs.isFetching} data-testid="logs-refresh">
            <Icon name="refresh" size={14} /> {logs.isFetching ? 'Loading…' : 'Refresh'}
          </button>
        </div>
      </div>
      {logs.isPending ? (
        <Loading />
      ) : logs.isError ? (
        <ErrorState error={logs.error} onRetry={() => void logs.refetch()} />
      ) : lines.length === 0 ? (
        <p className="muted" data-testid="logs-empty">
          {q ? 'No line matches.' : 'The container has not logged anything.'}
        </p>
      ) : (
        <div className="log-view" role="log" aria-label="Container log" tabIndex={0} data-testid="logs-view">
          {lines.map((l, i) => (
            <div key={i} className={`log-line${l.stream === 'stderr' ? ' log-stderr' : ''}`}>
              {timestamps && l.ts ? <span className="log-ts">{l.ts}</span> : null}
              <span className="log-text">{l.line}</span>
            </div>
          ))}
        </div>
      )}
      {logs.data ? (
        <p className="muted small">
          {lines.length} of {logs.data.items.length} lines · stderr in red
        </p>
      ) : null}
    </section>
  );
}

function Inspect({ endpoint, id }: { endpoint: string; id: string }) {
  const inspect = useContainerInspect(endpoint, id);
  if (inspect.isPending) return <Loading />;
  if (inspect.isError) return <ErrorState error={inspect.error} onRetry={() => void inspect.refetch()} />;
  return (
    <section className="card" aria-label="Inspect">
      <JsonBlock value={inspect.data} testId="container-inspect" maxHeight={640} />
    </section>
  );
}

export default function ContainerDetailPage() {
  const { endpoint = '', id = '' } = useParams();
  const canOperate = useCan('operator');
  const isAdmin = useCan('admin');
  const navigate = useNavigate();
  const container = useContainer(endpoint, id);
  const [p, update] = useUrlParams(KEYS);
  const tab: Tab = p.tab === 'inspect' || p.tab === 'logs' ? p.tab : 'overview';
  const back = (
    <Link to="/containers" className="back-link">
      <Icon name="arrowLeft" size={16} /> Containers
    </Link>
  );

  if (container.isPending) return <Loading />;
  if (container.isError)
    return (
      <div className="page" data-testid="page-container">
        {back}
        {isApiError(container.error) && container.error.status === 404 ? (
          <EmptyState icon="box" title="Container not found" testId="container-not-found">
            <p>{container.error.message}</p>
          </EmptyState>
        ) : (
          <ErrorState error={container.error} onRetry={() => void container.refetch()} />
        )}
      </div>
    );

  const c = container.data;
  let panel: ReactNode;
  if (tab === 'inspect') panel = <Inspect endpoint={endpoint} id={c.id} />;
  else if (tab === 'logs') panel = <Logs endpoint={endpoint} id={c.id} />;
  else {
    const ports = formatPorts(c.ports);
    panel = (
      <div className="split">
        <section className="card" aria-labelledby="co-h">
          <h2 id="co-h" className="card-title">
            Container
          </h2>
          <dl className="kv">
            <dt>Image</dt>
            <dd>
              <code>{c.image}</code>
            </dd>
            <dt>ID</dt>
            <dd>
              <code className="small">{c.id}</code>
            </dd>
            <dt>Endpoint</dt>
            <dd>
              {c.endpoint.name} <span className="muted small">({c.endpoint.kind})</span>
              {c.endpoint.node_id ? (
                <>
                  {' · '}
                  <Link to={`/fleet/${encodeURIComponent(c.endpoint.node_id)}`}>node</Link>
                </>
              ) : null}
            </dd>
            <dt>Status</dt>
            <dd>{c.status}</dd>
            <dt>Created</dt>
            <dd>{c.created ? formatDateTime(c.created * 1000) : '—'}</dd>
            {c.compose_project ? (
              <>
                <dt>Compose</dt>
                <dd>
                  {c.compose_project}
                  {c.compose_service ? ` / ${c.compose_service}` : ''}
                </dd>
              </>
            ) : null}
            <dt>Ports</dt>
            <dd>{ports.length ? ports.join(', ') : '—'}</dd>
            <dt>Networks</dt>
            <dd>{c.networks.length ? c.networks.join(', ') : '—'}</dd>
          </dl>
        </section>
        <div>
          <section className="card" aria-labelledby="cm-h">
            <h2 id="cm-h" className="card-title">
              Mounts
            </h2>
            {c.mounts.length === 0 ? (
              <p className="muted">None.</p>
            ) : (
              <ul className="plain-list">
                {c.mounts.map((m) => (
                  <li key={m.target}>
                    <span className="badge">{m.kind}</span> <code>{m.source}</code> → <code>{m.target}</code>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="card" aria-labelledby="cl-h">
            <h2 id="cl-h" className="card-title">
              Labels
            </h2>
            <LabelChips labels={c.labels} max={50} />
          </section>
        </div>
      </div>
    );
  }

  return (
    <div className="page" data-testid="page-container">
      {back}
      <PageHeader
        title={c.name}
        description={
          <span className="header-meta">
            <span data-testid="container-state" data-state={c.state} aria-live="polite">
              <StateBadge value={c.state} tones={STATE_TONE} />
            </span>
            <span>{c.status}</span>
            <span className="muted">on {c.endpoint.name}</span>
            {c.created ? (
              <span className="muted">
                created <RelativeTime value={new Date(c.created * 1000).toISOString()} />
              </span>
            ) : null}
          </span>
        }
        actions={canOperate ? <ContainerActions c={c} onRemoved={() => navigate('/containers', { replace: true })} /> : null}
      />
      <Tabs
        label="Container sections"
        idBase="ctr"
        value={tab}
        onChange={(t) => update({ tab: t === 'overview' ? '' : t })}
        tabs={[
          { id: 'overview', label: 'Overview', testId: 'container-tab-overview' },
          { id: 'logs', label: 'Logs', testId: 'container-tab-logs' },
          { id: 'inspect', label: 'Inspect', testId: 'container-tab-inspect' },
          ...(isAdmin ? [{ id: 'terminal' as const, label: 'Terminal', disabled: true, title: TERMINAL_SOON, testId: 'container-tab-terminal' }] : []),
        ]}
      />
      <TabPanel idBase="ctr" id={tab}>
        {panel}
      </TabPanel>
    </div>
  );
}
