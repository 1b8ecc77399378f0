import { useSystemInfo } from '../../api/hooks';
import { Icon } from '../../components/Icon';
import { ErrorState, Loading, PageHeader } from '../../components/ui';
import { useLiveStatus } from '../../live/LiveProvider';
import { formatBytes, formatDuration, formatNumber } from '../../lib/format';

export default function SystemPage() {
  const info = useSystemInfo();
  const live = useLiveStatus();

  const refresh = (
    <button type="button" className="btn" onClick={() => void info.refetch()} disabled={info.isFetching} data-testid="system-refresh">
      <Icon name="refresh" size={16} /> {info.isFetching ? 'Refreshing…' : 'Refresh'}
    </button>
  );

  let body;
  if (info.isPending) body = <Loading />;
  else if (info.isError) body = <ErrorState error={info.error} onRetry={() => void info.refetch()} />;
  else {
    const d = info.data;
    const stats: { label: string; value: string; testId: string; mono?: boolean }[] = [
      { label: 'Version', value: d.version, testId: 'system-version' },
      { label: 'Uptime', value: formatDuration(d.uptime_seconds), testId: 'system-uptime' },
      { label: 'Memory (RSS)', value: formatBytes(d.rss_bytes), testId: 'system-rss' },
      { label: 'WebSocket sessions', value: formatNumber(d.ws_sessions), testId: 'system-ws' },
      { label: 'Events published', value: formatNumber(d.events_published), testId: 'system-events' },
      { label: 'Database', value: d.database, testId: 'system-db' },
    ];
    body = (
      <>
        <div className="stat-grid" data-testid="system-info">
          {stats.map((s) => (
            <div className="stat" key={s.label} data-testid={s.testId}>
              <div className="stat-label">{s.label}</div>
              <div className="stat-value">{s.value}</div>
            </div>
          ))}
        </div>
        <section className="card" aria-labelledby="sys-host-h">
          <h2 id="sys-host-h" className="card-title">
            Host
          </h2>
          <dl className="kv">
            <dt>Hostname</dt>
            <dd>
              <code>{d.hostname}</code>
            </dd>
            <dt>Data directory</dt>
            <dd>
              <code>{d.data_dir}</code>
            </dd>
            {d.pid !== undefined ? (
              <>
                <dt>Process id</dt>
                <dd>{d.pid}</dd>
              </>
            ) : null}
            {d.event_subscribers !== undefined ? (
              <>
                <dt>Event-bus subscribers</dt>
                <dd>{formatNumber(d.event_subscribers)}</dd>
              </>
            ) : null}
            {d.last_event_id !== undefined ? (
              <>
                <dt>Last event id</dt>
                <dd>{d.last_event_id}</dd>
              </>
            ) : null}
          </dl>
        </section>
      </>
    );
  }

  return (
    <div className="page" data-testid="page-system">
      <PageHeader title="System" description="The master process this dashboard is talking to." actions={refresh} />
      {body}
      <section className="card" aria-labelledby="sys-live-h">
        <h2 id="sys-live-h" className="card-title">
          This browser’s live connection
        </h2>
        <dl className="kv">
          <dt>Status</dt>
          <dd data-testid="system-live-status">{live.status}</dd>
          <dt>Last event id</dt>
          <dd>{live.lastId ?? '—'}</dd>
          <dt>Failed attempts</dt>
          <dd>{live.attempt}</dd>
        </dl>
      </section>
    </div>
  );
}
