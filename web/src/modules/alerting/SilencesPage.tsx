// Alertmanager's silences: list by state, create, and expire (operators).

import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useCan } from '../../auth/session';
import { ConfirmDialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Badge, PageHeader, RelativeTime } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { alertingKeys, expireSilence, pageQuery, useSilences, type Silence } from './api';
import { matcherText } from './alerting';
import SilenceDialog from './SilenceDialog';
import './alerting.css';

const STATE_TONE = { active: 'ok', pending: 'info', expired: 'neutral' } as const;

const COLUMNS: Column<Silence>[] = [
  {
    key: 'matchers',
    header: 'Matchers',
    cell: (s) => (
      <span className="label-chips">
        {s.matchers.map((m) => (
          <code className="label-chip mono" key={matcherText(m)}>
            {matcherText(m)}
          </code>
        ))}
      </span>
    ),
  },
  {
    key: 'state',
    header: 'State',
    sortValue: (s) => s.state,
    cell: (s) => (
      <Badge tone={STATE_TONE[s.state as keyof typeof STATE_TONE] ?? 'neutral'} dot>
        <span data-testid="silence-state">{s.state}</span>
      </Badge>
    ),
  },
  {
    key: 'ends',
    header: 'Ends',
    sortValue: (s) => s.ends_at,
    cell: (s) => (
      <span title={formatDateTime(s.ends_at)}>
        <RelativeTime value={s.ends_at} />
      </span>
    ),
  },
  { key: 'created_by', header: 'Created by', sortValue: (s) => s.created_by, cell: (s) => s.created_by },
  { key: 'comment', header: 'Comment', className: 'silence-comment', cell: (s) => s.comment },
];

export default function SilencesPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const qc = useQueryClient();
  const state = useTableParams(['state']);
  const { params } = state;
  const list = useSilences({ state: params.extra.state, ...pageQuery(params) });
  const [creating, setCreating] = useState(false);
  const [expiring, setExpiring] = useState<Silence | null>(null);

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
      <ResourceTable
        query={list}
        state={state}
        columns={COLUMNS}
        rowKey={(s) => s.id}
        rowProps={(s) => ({ 'data-testid': 'silence-row', 'data-id': s.id, 'data-state': s.state })}
        actions={[{ label: () => 'Expire silence', text: () => 'Expire', testId: 'silence-expire', hidden: (s) => s.state === 'expired', onClick: setExpiring }]}
        chips={(['active', 'pending', 'expired'] as const).map((s) => ({ param: 'state', value: s, label: s }))}
        empty={{ icon: 'pause', title: 'No silences', body: <p>A silence mutes matching alerts for a while. Create one here or from a firing alert.</p> }}
        noun="silences"
        testId="silences-table"
      />
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
