// One container: overview, inspect JSON, its log (followed live or fetched once) and, for admins,
// a terminal. xterm.js is loaded only when the Terminal tab opens.

import { lazy, Suspense, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { isApiError } from '../../api/client';
import { useContainer, useContainerInspect } from '../../api/docker';
import { useCan } from '../../auth/session';
import { JsonBlock, LabelChips, StateBadge } from '../../components/data';
import { Icon } from '../../components/Icon';
import { TabPanel, Tabs } from '../../components/Tabs';
import { EmptyState, ErrorState, Loading, PageHeader, RelativeTime } from '../../components/ui';
import { formatPorts, STATE_TONE } from '../../lib/containers';
import { formatDateTime } from '../../lib/format';
import { useUrlParams } from '../../lib/useUrlParams';
import { ContainerLogs } from './ContainerLogs';
import { ContainerActions } from './containerActions';

const ContainerTerminal = lazy(() => import('./ContainerTerminal'));

type Tab = 'overview' | 'inspect' | 'logs' | 'terminal';
const KEYS = ['tab'] as const;

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
  const tab: Tab = p.tab === 'inspect' || p.tab === 'logs' || (p.tab === 'terminal' && isAdmin) ? p.tab : 'overview';
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
  else if (tab === 'logs') panel = <ContainerLogs key={`${endpoint}/${c.id}`} endpoint={endpoint} id={c.id} name={c.name} running={c.state === 'running'} />;
  else if (tab === 'terminal')
    panel =
      c.state === 'running' ? (
        <Suspense fallback={<Loading label="Loading the terminal…" />}>
          <ContainerTerminal key={`${endpoint}/${c.id}`} endpoint={endpoint} id={c.id} />
        </Suspense>
      ) : (
        <EmptyState icon="terminal" title="The container is not running" testId="terminal-not-running">
          <p>A shell needs a running container. Start it, and the terminal opens here.</p>
        </EmptyState>
      );
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
          // Exec is admin-only on the server: other roles do not see the tab at all.
          ...(isAdmin ? [{ id: 'terminal' as const, label: 'Terminal', testId: 'container-tab-terminal' }] : []),
        ]}
      />
      <TabPanel idBase="ctr" id={tab}>
        {panel}
      </TabPanel>
    </div>
  );
}
