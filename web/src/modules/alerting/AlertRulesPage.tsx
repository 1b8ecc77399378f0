// Alert rules (loaded into Prometheus): list, and for operators create, edit and delete.

import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useCan } from '../../auth/session';
import { ConfirmDialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Badge, PageHeader } from '../../components/ui';
import { alertingKeys, deleteRule, pageQuery, useAlertRules, type AlertRule } from './api';
import { SEVERITY_TONE } from './alerting';
import RuleEditor from './RuleEditor';
import './alerting.css';

const COLUMNS: Column<AlertRule>[] = [
  {
    key: 'name',
    header: 'Name',
    sortValue: (r) => r.name,
    cell: (r) => (
      <>
        <strong>{r.name}</strong>
        {r.builtin ? (
          <>
            {' '}
            <Badge tone="info">built-in</Badge>
          </>
        ) : null}
        {r.annotations.summary ? <div className="muted small">{r.annotations.summary}</div> : null}
      </>
    ),
  },
  {
    key: 'expr',
    header: 'Expression',
    cell: (r) => (
      <code className="mono-cell rule-expr" title={r.expr}>
        {r.expr}
      </code>
    ),
  },
  { key: 'for', header: 'For', cell: (r) => r.for },
  { key: 'severity', header: 'Severity', sortValue: (r) => r.severity, cell: (r) => <Badge tone={SEVERITY_TONE[r.severity] ?? 'neutral'}>{r.severity}</Badge> },
  { key: 'enabled', header: 'State', sortValue: (r) => r.enabled, cell: (r) => (r.enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="neutral">disabled</Badge>) },
];

export default function AlertRulesPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const qc = useQueryClient();
  const state = useTableParams();
  const list = useAlertRules(pageQuery(state.params));
  const [editing, setEditing] = useState<AlertRule | 'new' | null>(null);
  const [deleting, setDeleting] = useState<AlertRule | null>(null);

  return (
    <div className="page" data-testid="page-alert-rules">
      <PageHeader
        title="Alert rules"
        description="PromQL conditions Prometheus evaluates; ContextBay writes them to its rule file and reloads Prometheus."
        actions={
          canOperate ? (
            <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} data-testid="rule-new">
              <Icon name="plus" size={16} /> New rule
            </button>
          ) : null
        }
      />
      <ResourceTable
        query={list}
        state={state}
        columns={COLUMNS}
        rowKey={(r) => r.id}
        rowProps={(r) => ({ 'data-testid': 'rule-row', 'data-name': r.name })}
        actions={[
          { label: (r) => `Edit rule ${r.name}`, icon: 'edit', testId: 'rule-edit', onClick: setEditing },
          { label: (r) => `Delete rule ${r.name}`, icon: 'trash', danger: true, testId: 'rule-delete', onClick: setDeleting },
        ]}
        filter={{ label: 'Filter rules', placeholder: 'Name or expression…', text: (r) => `${r.name} ${r.expr}` }}
        empty={{ icon: 'shield', title: 'No alert rules', body: <p>A rule is a PromQL condition; while it holds, it fires an alert.</p> }}
        noun="rules"
        testId="rules-table"
      />
      {editing ? <RuleEditor rule={editing === 'new' ? null : editing} onClose={() => setEditing(null)} /> : null}
      {deleting ? (
        <ConfirmDialog
          title="Delete alert rule"
          danger
          confirmLabel="Delete rule"
          testId="delete-rule-dialog"
          message={
            <p>
              Delete <strong>{deleting.name}</strong>? Prometheus stops evaluating it; alerts it fired resolve.
            </p>
          }
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await deleteRule(deleting.id);
            toast.success(`Rule ${deleting.name} deleted`);
            await qc.invalidateQueries({ queryKey: alertingKeys.rulesAll });
          }}
        />
      ) : null}
    </div>
  );
}
