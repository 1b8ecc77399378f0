import { useEffect, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { useAudit } from '../../api/hooks';
import type { AuditParams } from '../../api/keys';
import type { AuditEntry } from '../../api/types';
import { Icon } from '../../components/Icon';
import { pageQuery, ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { Badge, PageHeader, RelativeTime } from '../../components/ui';
import { limitOf, offsetOf } from '../../lib/table';
import { formatDateTime, localInputToRfc3339, rfc3339ToLocalInput } from '../../lib/format';

const FILTERS = ['actor', 'action', 'result', 'since', 'until'] as const;

function paramsFrom(sp: URLSearchParams): AuditParams {
  return {
    actor: sp.get('actor') ?? '',
    action: sp.get('action') ?? '',
    result: sp.get('result') === 'success' || sp.get('result') === 'failure' ? (sp.get('result') as 'success' | 'failure') : '',
    since: sp.get('since') ?? '',
    until: sp.get('until') ?? '',
    limit: limitOf(sp.get('limit')),
    offset: offsetOf(sp.get('offset')),
  };
}

function methodOf(action: string): string | null {
  const m = /^(GET|POST|PUT|PATCH|DELETE)\s/.exec(action);
  return m ? (m[1] ?? null) : null;
}

export default function AuditPage() {
  const [sp, setSp] = useSearchParams();
  const table = useTableParams();
  const params = { ...paramsFrom(sp), ...pageQuery(table.params) };
  const audit = useAudit(params);

  // The form edits a draft; Apply writes it to the URL (shareable, back-button friendly).
  const [draft, setDraft] = useState(() => ({
    actor: params.actor,
    action: params.action,
    result: params.result,
    since: rfc3339ToLocalInput(params.since),
    until: rfc3339ToLocalInput(params.until),
  }));

  // Keep the form in step with the URL (back/forward, links from elsewhere).
  const urlKey = sp.toString();
  useEffect(() => {
    const p = paramsFrom(new URLSearchParams(urlKey));
    setDraft({ actor: p.actor, action: p.action, result: p.result, since: rfc3339ToLocalInput(p.since), until: rfc3339ToLocalInput(p.until) });
  }, [urlKey]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const n = new URLSearchParams();
    if (draft.actor.trim()) n.set('actor', draft.actor.trim());
    if (draft.action.trim()) n.set('action', draft.action.trim());
    if (draft.result) n.set('result', draft.result);
    const since = localInputToRfc3339(draft.since);
    const until = localInputToRfc3339(draft.until);
    if (since) n.set('since', since);
    if (until) n.set('until', until);
    setSp(n);
  };

  const reset = () => {
    setDraft({ actor: '', action: '', result: '', since: '', until: '' });
    setSp(new URLSearchParams());
  };

  const filtered = FILTERS.some((f) => params[f]);

  const showActor = (actor: string) => {
    setDraft((d) => ({ ...d, actor }));
    setSp((p) => {
      const n = new URLSearchParams(p);
      n.set('actor', actor);
      n.delete('offset');
      return n;
    });
  };
  const columns: Column<AuditEntry>[] = [
    { key: 'ts', header: 'Time', className: 'nowrap', sortValue: (a) => a.ts, cell: (a) => <span title={formatDateTime(a.ts)}><RelativeTime value={a.ts} /></span> },
    {
      key: 'actor',
      header: 'Actor',
      sortValue: (a) => a.actor,
      cell: (a) => (
        <button type="button" className="link-btn" title={`Show only ${a.actor}`} onClick={() => showActor(a.actor)}>
          {a.actor || '—'}
        </button>
      ),
    },
    {
      key: 'action',
      header: 'Action',
      className: 'nowrap',
      sortValue: (a) => a.action,
      cell: (a) => {
        const method = methodOf(a.action);
        return (
          <>
            {method ? <span className={`method method-${method.toLowerCase()}`}>{method}</span> : null}
            <code className="mono-cell">{method ? a.action.slice(method.length + 1) : a.action}</code>
          </>
        );
      },
    },
    { key: 'target', header: 'Target', sortValue: (a) => a.target, cell: (a) => <code className="mono-cell">{a.target ?? '—'}</code> },
    {
      key: 'result',
      header: 'Result',
      sortValue: (a) => a.status,
      cell: (a) => (
        <Badge tone={a.result === 'success' ? 'ok' : 'bad'} dot>
          {a.result} · {a.status}
        </Badge>
      ),
    },
    { key: 'source_ip', header: 'Source IP', className: 'nowrap', sortValue: (a) => a.source_ip, cell: (a) => a.source_ip ?? '—' },
    {
      key: 'request',
      header: 'Request',
      cell: (a) => (
        <code className="mono-cell muted" title={a.request_id}>
          {/* Request ids are UUIDv7: the head is a timestamp shared by a minute of requests, the tail tells them apart. */}
          {a.request_id ? (a.request_id.length > 8 ? `…${a.request_id.slice(-8)}` : a.request_id) : '—'}
        </code>
      ),
    },
  ];

  const body = (
    <ResourceTable
      query={audit}
      state={table}
      columns={columns}
      rowKey={(a) => String(a.id)}
      rowProps={() => ({ 'data-testid': 'audit-row' })}
      filtered={filtered}
      tableClassName="table-dense"
      empty={{
        icon: 'list',
        title: 'No audit entries yet',
        filteredTitle: 'No entries match these filters',
        body: <p>Every change made through the API is recorded here.</p>,
        filteredBody: <p>Try a wider time range or fewer filters.</p>,
        testId: 'audit-empty',
      }}
      testId="audit-table"
    />
  );

  return (
    <div className="page" data-testid="page-audit">
      <PageHeader title="Audit log" description="Every mutating API call: who, what, on which target, and how it ended." />
      <form className="filters" onSubmit={apply} aria-label="Audit filters" data-testid="audit-filters">
        <div className="field">
          <label htmlFor="af-actor">Actor</label>
          <input id="af-actor" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} placeholder="username" data-testid="audit-filter-actor" />
        </div>
        <div className="field">
          <label htmlFor="af-action">Action</label>
          <input id="af-action" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })} placeholder="e.g. POST /api/users" data-testid="audit-filter-action" />
        </div>
        <div className="field">
          <label htmlFor="af-result">Result</label>
          <select
            id="af-result"
            value={draft.result}
            onChange={(e) => setDraft({ ...draft, result: e.target.value as AuditParams['result'] })}
            data-testid="audit-filter-result"
          >
            <option value="">Any</option>
            <option value="success">Success</option>
            <option value="failure">Failure</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="af-since">Since</label>
          <input id="af-since" type="datetime-local" value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.target.value })} data-testid="audit-filter-since" />
        </div>
        <div className="field">
          <label htmlFor="af-until">Until</label>
          <input id="af-until" type="datetime-local" value={draft.until} onChange={(e) => setDraft({ ...draft, until: e.target.value })} data-testid="audit-filter-until" />
        </div>
        <div className="filters-actions">
          <button type="submit" className="btn btn-primary" data-testid="audit-apply">
            <Icon name="search" size={16} /> Apply
          </button>
          <button type="button" className="btn" onClick={reset} disabled={!filtered}>
            Reset
          </button>
        </div>
      </form>
      {audit.data ? (
        <p className="muted small" aria-live="polite">
          {audit.data.total.toLocaleString()} entries{filtered ? ' match' : ''}
          {audit.isFetching && !audit.isPending ? ' · refreshing…' : ''}
        </p>
      ) : null}
      {body}
    </div>
  );
}
