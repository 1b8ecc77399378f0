// Alertmanager's silences: list by state, create, and expire (operators).

import { useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { useCan } from '../../auth/session';
import { ConfirmDialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, Pagination, RelativeTime } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { offsetOf, useUrlParams } from '../../lib/useUrlParams';
import { alertingKeys, DEFAULT_LIMIT, expireSilence, pageQuery, useSilences, type Silence } from './api';
import { matcherText } from './alerting';
import SilenceDialog from './SilenceDialog';
import './alerting.css';

const KEYS = ['state', 'offset'] as const;
const STATE_TONE = { active: 'ok', pending: 'info', expired: 'neutral' } as const;

export default function SilencesPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const qc = useQueryClient();
  const [p, update] = useUrlParams(KEYS);
  const offset = offsetOf(p.offset);
  const list = useSilences({ state: p.state, ...pageQuery(DEFAULT_LIMIT, offset) });
  const [creating, setCreating] = useState(false);
  const [expiring, setExpiring] = useState<Silence | null>(null);

  const items = list.data?.items ?? [];
  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (items.length === 0)
    body = (
      <EmptyState icon="pause" title="No silences" testId="silences-empty">
        <p>A silence mutes matching alerts in Alertmanager for a while. Create one here or from a firing alert.</p>
      </EmptyState>
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table" data-testid="silences-table">
          <thead>
            <tr>
              <th scope="col">Matchers</th>
              <th scope="col">State</th>
              <th scope="col">Ends</th>
              <th scope="col">Created by</th>
              <th scope="col">Comment</th>
              {canOperate ? (
                <th scope="col" className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id} data-testid="silence-row" data-id={s.id} data-state={s.state}>
                <td>
                  <span className="label-chips">
                    {s.matchers.map((m) => (
                      <code className="label-chip mono" key={matcherText(m)}>
                        {matcherText(m)}
                      </code>
                    ))}
                  </span>
                </td>
                <td>
                  <Badge tone={STATE_TONE[s.state as keyof typeof STATE_TONE] ?? 'neutral'} dot>
                    <span data-testid="silence-state">{s.state}</span>
                  </Badge>
                </td>
                <td title={formatDateTime(s.ends_at)}>
                  <RelativeTime value={s.ends_at} />
                </td>
                <td>{s.created_by}</td>
                <td className="silence-comment">{s.comment}</td>
                {canOperate ? (
                  <td className="actions-col">
                    {s.state !== 'expired' ? (
                      <button type="button" className="btn btn-sm" onClick={() => setExpiring(s)} data-testid="silence-expire">
                        Expire
                      </button>
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
    <div className="page" data-testid="page-silences">
      <PageHeader
        title="Silences"
        description="Alertmanager's silences: matching alerts are not notified while one is active."
        actions={
          canOperate ? (
            <button type="button" className="btn btn-primary" onClick={() => setCreating(true)} data-testid="silence-new">
              <Icon name="plus" size={16} /> New silence
            </button>
          ) : null
        }
      />
      <div className="toolbar toolbar-wrap">
        <div className="segmented" role="group" aria-label="State">
          {(['', 'active', 'pending', 'expired'] as const).map((s) => (
            <button key={s || 'all'} type="button" aria-pressed={p.state === s} data-testid={`silences-state-${s || 'all'}`} onClick={() => update({ state: s })}>
              {s ? s.charAt(0).toUpperCase() + s.slice(1) : 'All'}
            </button>
          ))}
        </div>
        {list.isFetching && !list.isPending ? <span className="spinner spinner-sm" aria-label="Refreshing" /> : null}
      </div>
      {body}
      {list.data && list.data.total > items.length ? (
        <Pagination offset={offset} limit={list.data.limit ?? DEFAULT_LIMIT} total={list.data.total} onChange={(o) => update({ offset: o ? String(o) : '' })} />
      ) : null}
      {creating ? (
        <SilenceDialog
          title="New silence"
          initial={{ matchers: [{ name: 'alertname', value: '', is_regex: false, is_equal: true }], duration: '2h', comment: '' }}
          onClose={() => setCreating(false)}
        />
      ) : null}
      {expiring ? (
        <ConfirmDialog
          title="Expire silence"
          confirmLabel="Expire"
          danger
          testId="expire-silence-dialog"
          message={<p>Expire the silence on {expiring.matchers.map(matcherText).join(', ')}? Matching alerts are notified again.</p>}
          onClose={() => setExpiring(null)}
          onConfirm={async () => {
            await expireSilence(expiring.id);
            toast.success('Silence expired');
            await qc.invalidateQueries({ queryKey: alertingKeys.silencesAll });
          }}
        />
      ) : null}
    </div>
  );
}
