// Alerts Alertmanager reported, filterable by status and severity, with acknowledge, resolve and
// "silence" (a silence prefilled from the alert's labels) for operators. Refreshed live by
// alert.* events.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorMessage } from '../../api/client';
import { LabelChips } from '../../components/data';
import { ResourceTable, useTableParams, type Column, type RowAction } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Badge, PageHeader, RelativeTime } from '../../components/ui';
import { acknowledgeAlert, alertingKeys, pageQuery, resolveAlert, useAlerts, type Alert } from './api';
import { matchersForAlert, SEVERITIES, SEVERITY_TONE } from './alerting';
import SilenceDialog from './SilenceDialog';
import './alerting.css';

const COLUMNS: Column<Alert>[] = [
  {
    key: 'name',
    header: 'Alert',
    sortValue: (a) => a.name,
    cell: (a) => (
      <>
        <strong>{a.name}</strong>
        {a.annotations.summary ? <div className="muted small">{a.annotations.summary}</div> : null}
      </>
    ),
  },
  { key: 'severity', header: 'Severity', sortValue: (a) => SEVERITIES.indexOf(a.severity as (typeof SEVERITIES)[number]), cell: (a) => <Badge tone={SEVERITY_TONE[a.severity] ?? 'neutral'}>{a.severity}</Badge> },
  {
    key: 'status',
    header: 'Status',
    sortValue: (a) => a.status,
    cell: (a) => (
      <Badge tone={a.status === 'firing' ? 'bad' : 'ok'} dot>
        {a.status}
      </Badge>
    ),
  },
  { key: 'labels', header: 'Labels', cell: (a) => <LabelChips labels={a.labels} max={4} /> },
  { key: 'since', header: 'Since', sortValue: (a) => a.starts_at, cell: (a) => <RelativeTime value={a.starts_at} /> },
  {
    key: 'acknowledged',
    header: 'Acknowledged',
    sortValue: (a) => a.acknowledged_at,
    cell: (a) => (
      <span data-testid="alert-ack">
        {a.acknowledged ? (
          <>
            by {a.acknowledged_by} <RelativeTime value={a.acknowledged_at} />
          </>
        ) : (
          <span className="muted">no</span>
        )}
      </span>
    ),
  },
];

export default function AlertsPage() {
  const toast = useToast();
  const qc = useQueryClient();
  const state = useTableParams(['status', 'severity']);
  const { params } = state;
  const list = useAlerts({ status: params.extra.status, severity: params.extra.severity, q: params.q, ...pageQuery(params) });
  const [silencing, setSilencing] = useState<Alert | null>(null);

  const act = useMutation({
    mutationFn: ({ alert, action }: { alert: Alert; action: 'acknowledge' | 'resolve' }) =>
      action === 'acknowledge' ? acknowledgeAlert(alert.id) : resolveAlert(alert.id),
    onSuccess: (a, { action }) => {
      toast.success(`${a.name} ${action === 'acknowledge' ? 'acknowledged' : 'resolved'}`);
      void qc.invalidateQueries({ queryKey: alertingKeys.alertsAll });
    },
    onError: (e) => toast.error('The alert was not changed', errorMessage(e)),
  });

  const actions: RowAction<Alert>[] = [
    {
      label: (a) => `Acknowledge ${a.name}`,
      text: () => 'Acknowledge',
      testId: 'alert-acknowledge',
      hidden: (a) => a.acknowledged,
      disabled: () => act.isPending,
      onClick: (a) => act.mutate({ alert: a, action: 'acknowledge' }),
    },
    { label: (a) => `Silence ${a.name}`, text: () => 'Silence', testId: 'alert-silence', hidden: (a) => a.status !== 'firing', onClick: setSilencing },
    {
      label: (a) => `Resolve ${a.name}`,
      text: () => 'Resolve',
      testId: 'alert-resolve',
      hidden: (a) => a.status !== 'firing',
      disabled: () => act.isPending,
      onClick: (a) => act.mutate({ alert: a, action: 'resolve' }),
    },
  ];

  return (
    <div className="page" data-testid="page-alerts">
      <PageHeader title="Alerts" description="What Alertmanager reported; alerts update here as they fire and resolve." />
      <ResourceTable
        query={list}
        state={state}
        columns={COLUMNS}
        rowKey={(a) => a.id}
        rowProps={(a) => ({ 'data-testid': 'alert-row', 'data-name': a.name, 'data-status': a.status, 'data-acknowledged': String(a.acknowledged) })}
        actions={actions}
        filter={{ label: 'Filter alerts by name', placeholder: 'Alert name…' }}
        chips={[
          { param: 'status', value: 'firing', label: 'Firing' },
          { param: 'status', value: 'resolved', label: 'Resolved' },
          ...SEVERITIES.map((s) => ({ param: 'severity', value: s, label: s })),
        ]}
        empty={{ icon: 'bell', title: 'No alerts', body: <p>Alerts from Alertmanager appear here the moment they fire.</p> }}
        noun="alerts"
        testId="alerts-table"
      />
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
