// Prometheus' scrape targets with their health (up/down, last scrape, its duration and error),
// and Prometheus' own state, refreshed every few seconds.

import type { ReactNode } from 'react';
import { LabelChips } from '../../components/data';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, RelativeTime } from '../../components/ui';
import { usePrometheusStatus, useTargets } from './api';
import GrafanaLinks from './GrafanaLinks';
import './monitoring.css';

const HEALTH_TONE = { up: 'ok', down: 'bad', unknown: 'neutral' } as const;

function PrometheusSummary() {
  const status = usePrometheusStatus();
  if (!status.data) return null;
  const s = status.data;
  return (
    <div className="prom-summary muted small" data-testid="prometheus-status">
      <Badge tone={s.health.healthy ? 'ok' : 'bad'} dot>
        Prometheus {s.health.healthy ? 'reachable' : 'unreachable'}
      </Badge>
      {s.build?.version ? <span>version {String(s.build.version)}</span> : null}
      {s.runtime && s.runtime.reloadConfigSuccess === false ? <Badge tone="bad">last reload failed</Badge> : null}
      <span title={s.targets_file}>targets file {s.targets_file}</span>
    </div>
  );
}

export default function TargetsPage() {
  const targets = useTargets();
  let body: ReactNode;
  if (targets.isPending) body = <Loading />;
  else if (targets.isError) body = <ErrorState error={targets.error} onRetry={() => void targets.refetch()} />;
  else if (targets.data.length === 0)
    body = (
      <EmptyState icon="plug" title="No targets" testId="targets-empty">
        <p>Prometheus scrapes nothing yet. Point it at the targets file ContextBay writes (docs/monitoring.md).</p>
      </EmptyState>
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table" data-testid="targets-table">
          <thead>
            <tr>
              <th scope="col">Endpoint</th>
              <th scope="col">Health</th>
              <th scope="col">Labels</th>
              <th scope="col">Last scrape</th>
              <th scope="col" className="num">
                Duration
              </th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {targets.data.map((t) => (
              <tr key={`${t.scrapePool}/${t.scrapeUrl}`} data-testid="target-row" data-health={t.health} data-url={t.scrapeUrl}>
                <td>
                  <code className="mono-cell" title={t.scrapeUrl}>
                    {t.scrapeUrl}
                  </code>
                  <div className="muted small">{t.scrapePool}</div>
                </td>
                <td>
                  <Badge tone={HEALTH_TONE[t.health] ?? 'neutral'} dot>
                    <span data-testid="target-health">{t.health}</span>
                  </Badge>
                </td>
                <td>
                  <LabelChips labels={t.labels} max={6} />
                </td>
                <td>{t.lastScrape && !t.lastScrape.startsWith('0001-') ? <RelativeTime value={t.lastScrape} /> : '—'}</td>
                <td className="num">{t.lastScrapeDuration ? `${(t.lastScrapeDuration * 1000).toFixed(1)} ms` : '—'}</td>
                <td className="target-error" data-testid="target-error">
                  {t.lastError || <span className="muted">—</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );

  return (
    <div className="page" data-testid="page-targets">
      <PageHeader title="Targets" description="What Prometheus scrapes, and whether the last scrape worked." />
      <GrafanaLinks />
      <PrometheusSummary />
      {body}
    </div>
  );
}
