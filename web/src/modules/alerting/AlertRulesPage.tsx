// Alert rules (loaded into Prometheus): list, and for operators create, edit and delete.

import { useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { useCan } from '../../auth/session';
import { ConfirmDialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, Pagination } from '../../components/ui';
import { offsetOf, useUrlParams } from '../../lib/useUrlParams';
import { alertingKeys, DEFAULT_LIMIT, deleteRule, pageQuery, useAlertRules, type AlertRule } from './api';
import { SEVERITY_TONE } from './alerting';
import RuleEditor from './RuleEditor';
import './alerting.css';

const KEYS = ['q', 'offset'] as const;

export default function AlertRulesPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const qc = useQueryClient();
  const [p, update] = useUrlParams(KEYS);
  const offset = offsetOf(p.offset);
  const list = useAlertRules(pageQuery(DEFAULT_LIMIT, offset));
  const [editing, setEditing] = useState<AlertRule | 'new' | null>(null);
  const [deleting, setDeleting] = useState<AlertRule | null>(null);

  const needle = p.q.trim().toLowerCase();
  const items = (list.data?.items ?? []).filter((r) => !needle || r.name.toLowerCase().includes(needle) || r.expr.toLowerCase().includes(needle));
  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (items.length === 0)
    body = (
      <EmptyState icon="shield" title={needle ? 'No matching rules' : 'No alert rules'} testId="rules-empty">
        <p>{needle ? 'Nothing matches the filter.' : 'Rules are PromQL conditions Prometheus evaluates; a rule that holds fires an alert.'}</p>
      </EmptyState>
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table" data-testid="rules-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Expression</th>
              <th scope="col">For</th>
              <th scope="col">Severity</th>
              <th scope="col">State</th>
              {canOperate ? (
                <th scope="col" className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} data-testid="rule-row" data-name={r.name}>
                <td>
                  <strong>{r.name}</strong>
                  {r.builtin ? (
                    <>
                      {' '}
                      <Badge tone="info">built-in</Badge>
                    </>
                  ) : null}
                  {r.annotations.summary ? <div className="muted small">{r.annotations.summary}</div> : null}
                </td>
                <td>
                  <code className="mono-cell rule-expr" title={r.expr}>
                    {r.expr}
                  </code>
                </td>
                <td>{r.for}</td>
                <td>
                  <Badge tone={SEVERITY_TONE[r.severity] ?? 'neutral'}>{r.severity}</Badge>
                </td>
                <td>{r.enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="neutral">disabled</Badge>}</td>
                {canOperate ? (
                  <td className="actions-col">
                    <button type="button" className="icon-btn icon-btn-sm" aria-label={`Edit rule ${r.name}`} title="Edit" onClick={() => setEditing(r)} data-testid="rule-edit">
                      <Icon name="edit" size={15} />
                    </button>
                    <button type="button" className="icon-btn icon-btn-sm icon-btn-danger" aria-label={`Delete rule ${r.name}`} title="Delete" onClick={() => setDeleting(r)} data-testid="rule-delete">
                      <Icon name="trash" size={15} />
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );

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
      <div className="toolbar toolbar-wrap">
        <div className="search">
          <Icon name="search" size={16} />
          <input type="search" placeholder="Name or expression…" aria-label="Filter rules" value={p.q} onChange={(e) => update({ q: e.target.value })} />
        </div>
        {list.data && typeof list.data.total === 'number' ? <span className="muted small">{list.data.total} rules</span> : null}
      </div>
      {body}
      {list.data && list.data.total > (list.data.items?.length ?? 0) ? (
        <Pagination offset={offset} limit={list.data.limit ?? DEFAULT_LIMIT} total={list.data.total} onChange={(o) => update({ offset: o ? String(o) : '' })} />
      ) : null}
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
