import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { useAudit } from '../../api/hooks';
import type { AuditParams } from '../../api/keys';
import { Icon } from '../../components/Icon';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, Pagination, RelativeTime } from '../../components/ui';
import { formatDateTime, localInputToRfc3339, rfc3339ToLocalInput } from '../../lib/format';

const LIMIT = 50;
const FILTERS = ['actor', 'action', 'result', 'since', 'until'] as const;

function paramsFrom(sp: URLSearchParams): AuditParams {
  return {
    actor: sp.get('actor') ?? '',
    action: sp.get('action') ?? '',
    result: sp.get('result') === 'success' || sp.get('result') === 'failure' ? (sp.get('result') as 'success' | 'failure') : '',
    since: sp.get('since') ?? '',
    until: sp.get('until') ?? '',
    limit: LIMIT,
    offset: Math.max(0, Number(sp.get('offset') ?? 0) || 0),
  };
}

function methodOf(action: string): string | null {
  const m = /^(GET|POST|PUT|PATCH|DELETE)\s/.exec(action);
  return m ? (m[1] ?? null) : null;
}

export default function AuditPage() {
  const [sp, setSp] = useSearchParams();
  const params = paramsFrom(sp);
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

  const setOffset = (o: number) =>
    setSp((p) => {
      const n = new URLSearchParams(p);
      if (o > 0) n.set('offset', String(o));
      else n.delete('offset');
      return n;
    });

  const filtered = FILTERS.some((f) => params[f]);

  let body: ReactNode;
  if (audit.isPending) body = <Loading />;
  else if (audit.isError) body = <ErrorState error={audit.error} onRetry={() => void audit.refetch()} />;
  else if (audit.data.items.length === 0)
    body = (
      <EmptyState icon="list" title={filtered ? 'No entries match these filters' : 'No audit entries yet'} testId="audit-empty">
        {filtered ? <p>Try a wider time range or fewer filters.</p> : <p>Every change made through the API is recorded here.</p>}
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table className="table table-dense" data-testid="audit-table">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Result</th>
                <th scope="col">Source IP</th>
                <th scope="col">Request</th>
              </tr>
            </thead>
            <tbody>
              {audit.data.items.map((a) => {
                const method = methodOf(a.action);
                return (
                  <tr key={a.id} data-testid="audit-row">
                    <td className="nowrap" title={formatDateTime(a.ts)}>
                      <RelativeTime value={a.ts} />
                    </td>
                    <td>
                      <button
                        type="button"
                        className="link-btn"
                        title={`Show only ${a.actor}`}
                        onClick={() => {
                          setDraft((d) => ({ ...d, actor: a.actor }));
                          setSp((p) => {
                            const n = new URLSearchParams(p);
                            n.set('actor', a.actor);
                            n.delete('offset');
                            return n;
                          });
                        }}
                      >
                        {a.actor || '—'}
                      </button>
                    </td>
                    <td className="nowrap">
                      {method ? <span className={`method method-${method.toLowerCase()}`}>{method}</span> : null}
                      <code className="mono-cell">{method ? a.action.slice(method.length + 1) : a.action}</code>
                    </td>
                    <td>
                      <code className="mono-cell">{a.target ?? '—'}</code>
                    </td>
                    <td>
                      <Badge tone={a.result === 'success' ? 'ok' : 'bad'} dot>
                        {a.result} · {a.status}
                      </Badge>
                    </td>
                    <td className="nowrap">{a.source_ip ?? '—'}</td>
                    <td>
                      <code className="mono-cell muted" title={a.request_id}>
                        {/* Request ids are UUIDv7: the head is a timestamp shared by a minute of requests, the tail tells them apart. */}
                        {a.request_id ? (a.request_id.length > 8 ? `…${a.request_id.slice(-8)}` : a.request_id) : '—'}
                      </code>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <Pagination offset={params.offset} limit={LIMIT} total={audit.data.total} onChange={setOffset} />
      </>
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
