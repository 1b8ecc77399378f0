// Alerts Alertmanager reported: firing first, filterable, with acknowledge, resolve and "silence"
// (a silence prefilled from the alert's labels) for operators. Refreshed live by alert.* events.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { errorMessage } from '../../api/client';
import { useCan } from '../../auth/session';
import { LabelChips } from '../../components/data';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, Pagination, RelativeTime } from '../../components/ui';
import { offsetOf, useUrlParams } from '../../lib/useUrlParams';
import { acknowledgeAlert, DEFAULT_LIMIT, pageQuery, resolveAlert, useAlerts, type Alert } from './api';
import { matchersForAlert, SEVERITIES, SEVERITY_TONE } from './alerting';
import SilenceDialog from './SilenceDialog';
import './alerting.css';

const KEYS = ['status', 'severity', 'q', 'offset'] as const;

export default function AlertsPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const qc = useQueryClient();
  const [p, update] = useUrlParams(KEYS);
  const status = p.status === 'all' ? '' : p.status || 'firing';
  const offset = offsetOf(p.offset);
  const list = useAlerts({ status, severity: p.severity, q: p.q, ...pageQuery(DEFAULT_LIMIT, offset) });
  const [silencing, setSilencing] = useState<Alert | null>(null);

  const act = useMutation({
    mutationFn: ({ alert, action }: { alert: Alert; action: 'acknowledge' | 'resolve' }) =>
      action === 'acknowledge' ? acknowledgeAlert(alert.id) : resolveAlert(alert.id),
    onSuccess: (a, { action }) => {
      toast.success(`${a.name} ${action === 'acknowledge' ? 'acknowledged' : 'resolved'}`);
      void qc.invalidateQueries({ queryKey: ['alerts'] });
    },
    onError: (e) => toast.error('The alert was not changed', errorMessage(e)),
  });

  const items = list.data?.items ?? [];
  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (items.length === 0)
    body = (
      <EmptyState icon="bell" title={status === 'firing' ? 'Nothing is firing' : 'No alerts'} testId="alerts-empty">
        <p>{status === 'firing' ? 'Alerts from Alertmanager appear here the moment they fire.' : 'No alert matches the filters.'}</p>
      </EmptyState>
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table" data-testid="alerts-table">
          <thead>
            <tr>
              <th scope="col">Alert</th>
              <th scope="col">Severity</th>
              <th scope="col">Status</th>
              <th scope="col">Labels</th>
              <th scope="col">Since</th>
              <th scope="col">Acknowledged</th>
              {canOperate ? (
                <th scope="col" className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-testid="alert-row" data-name={a.name} data-status={a.status} data-acknowledged={a.acknowledged}>
                <td>
                  <strong>{a.name}</strong>
                  {a.annotations.summary ? <div className="muted small">{a.annotations.summary}</div> : null}
                </td>
                <td>
                  <Badge tone={SEVERITY_TONE[a.severity] ?? 'neutral'}>{a.severity}</Badge>
                </td>
                <td>
                  <Badge tone={a.status === 'firing' ? 'bad' : 'ok'} dot>
                    {a.status}
                  </Badge>
                </td>
                <td>
                  <LabelChips labels={a.labels} max={4} />
                </td>
                <td>
                  <RelativeTime value={a.starts_at} />
                </td>
                <td data-testid="alert-ack">
                  {a.acknowledged ? (
                    <span>
                      by {a.acknowledged_by} <RelativeTime value={a.acknowledged_at} />
                    </span>
                  ) : (
                    <span className="muted">no</span>
                  )}
                </td>
                {canOperate ? (
                  <td className="actions-col alert-actions">
                    {!a.acknowledged ? (
                      <button type="button" className="btn btn-sm" disabled={act.isPending} onClick={() => act.mutate({ alert: a, action: 'acknowledge' })} data-testid="alert-acknowledge">
                        Acknowledge
                      </button>
                    ) : null}
                    {a.status === 'firing' ? (
                      <>
                        <button type="button" className="btn btn-sm" onClick={() => setSilencing(a)} data-testid="alert-silence">
                          Silence
                        </button>
                        <button type="button" className="btn btn-sm" disabled={act.isPending} onClick={() => act.mutate({ alert: a, action: 'resolve' })} data-testid="alert-resolve">
                          Resolve
                        </button>
                      </>
                    ) : null}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );

  return (
    <div className="page" data-testid="page-alerts">
      <PageHeader title="Alerts" description="What Alertmanager reported, firing first." />
      <div className="toolbar toolbar-wrap">
        <div className="segmented" role="group" aria-label="Status">
          {(['firing', 'resolved', 'all'] as const).map((s) => (
            <button key={s} type="button" aria-pressed={(status || 'all') === s} data-testid={`alerts-status-${s}`} onClick={() => update({ status: s === 'firing' ? '' : s })}>
              {s === 'firing' ? 'Firing' : s === 'resolved' ? 'Resolved' : 'All'}
            </button>
          ))}
        </div>
        <label className="inline-field">
          <span>Severity</span>
          <select value={p.severity} onChange={(e) => update({ severity: e.target.value })} data-testid="alerts-severity">
            <option value="">Any</option>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <div className="search">
          <input type="search" placeholder="Alert name…" aria-label="Filter alerts by name" value={p.q} onChange={(e) => update({ q: e.target.value })} />
        </div>
        {list.data && typeof list.data.total === 'number' ? <span className="muted small">{list.data.total} alerts</span> : null}
        {list.isFetching && !list.isPending ? <span className="spinner spinner-sm" aria-label="Refreshing" /> : null}
      </div>
      {body}
      {list.data && list.data.total > items.length ? (
        <Pagination offset={offset} limit={list.data.limit ?? DEFAULT_LIMIT} total={list.data.total} onChange={(o) => update({ offset: o ? String(o) : '' })} />
      ) : null}
      {silencing ? (
        <SilenceDialog
          title={`Silence ${silencing.name}`}
          initial={{ matchers: matchersForAlert(silencing), duration: '2h', comment: '' }}
          onClose={() => setSilencing(null)}
        />
      ) : null}
    </div>
  );
}
