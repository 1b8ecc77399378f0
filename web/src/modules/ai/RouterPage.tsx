// The AI router: each configured provider (probed now, and as the router saw it from its own
// calls), the day's budget, the routing rules and the recent decisions with their reasons.

import { Badge, EmptyState, ErrorState, InlineError, Loading, PageHeader, RelativeTime } from '../../components/ui';
import { useAiStatus, useRouterStatus } from './api';
import { formatUsd } from './ai';
import './ai.css';

export default function RouterPage() {
  const router = useRouterStatus();
  const status = useAiStatus();
  if (router.isPending) return <Loading />;
  if (router.isError) return <ErrorState error={router.error} onRetry={() => void router.refetch()} />;
  const r = router.data;
  const probed = new Map((status.data?.providers ?? []).map((p) => [p.provider, p]));
  const b = r.budget;
  return (
    <div className="page" data-testid="page-ai-router">
      <PageHeader title="AI router" description="Which provider answers what, and why: health, spending and the last decisions." />
      {[...r.problems, ...(status.data?.problems ?? [])].map((p) => (
        <p key={p} className="form-error" role="alert">
          {p}
        </p>
      ))}
      <section className="card">
        <h3 className="card-title">Providers</h3>
        {status.isError ? <InlineError error={status.error} /> : null}
        {r.providers.length === 0 ? (
          <EmptyState icon="plug" title="No provider configured" testId="ai-no-provider">
            <p>An administrator sets the Ollama, OpenAI-compatible or Anthropic URL under Settings &amp; modules → ai.</p>
          </EmptyState>
        ) : (
          <table className="table" data-testid="ai-providers">
            <thead>
              <tr>
                <th>Provider</th>
                <th>URL</th>
                <th>Health (probed now)</th>
                <th>Router</th>
                <th>Default model</th>
                <th>Spent today</th>
              </tr>
            </thead>
            <tbody>
              {r.providers.map((p) => {
                const h = probed.get(p.provider);
                return (
                  <tr key={p.provider} data-testid="ai-provider-row" data-provider={p.provider}>
                    <td>
                      <strong>{p.provider}</strong>
                    </td>
                    <td>
                      <code className="mono-cell">{p.url}</code>
                    </td>
                    <td>
                      {h ? (
                        <>
                          <Badge tone={h.healthy ? 'ok' : 'bad'} dot>
                            {h.healthy ? 'healthy' : 'unreachable'}
                          </Badge>{' '}
                          <span className="muted small">{h.latency_ms} ms</span>
                          {h.detail ? <div className="muted small">{h.detail}</div> : null}
                        </>
                      ) : status.isPending ? (
                        'probing…'
                      ) : (
                        '—'
                      )}
                    </td>
                    <td>
                      {p.down ? <Badge tone="bad">passed over</Badge> : <Badge tone="ok">in use</Badge>}
                      {p.last_ok ? (
                        <div className="muted small">
                          last answer <RelativeTime value={p.last_ok} />
                        </div>
                      ) : null}
                      {p.last_error ? <div className="field-error small">{p.last_error}</div> : null}
                    </td>
                    <td>{p.default_model ?? '—'}</td>
                    <td>{formatUsd(p.spent_today_usd)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
      <section className="card" data-testid="ai-budget">
        <h3 className="card-title">Budget ({b.day}, UTC)</h3>
        <p>
          {formatUsd(b.spent_usd)} spent{b.limit_usd !== null && b.limit_usd !== undefined ? ` of ${formatUsd(b.limit_usd)}` : ' (no daily limit)'}
          {b.exhausted ? (
            <>
              {' '}
              <Badge tone="bad">exhausted: paid providers are passed over until tomorrow</Badge>
            </>
          ) : null}
        </p>
      </section>
      {r.rules.length > 0 ? (
        <section className="card">
          <h3 className="card-title">Routing rules</h3>
          <table className="table">
            <thead>
              <tr>
                <th>Rule</th>
                <th>When</th>
                <th>Try first</th>
              </tr>
            </thead>
            <tbody>
              {r.rules.map((rule) => (
                <tr key={rule.name}>
                  <td>{rule.name}</td>
                  <td className="small">
                    {[
                      rule.task_kind ? `task ${rule.task_kind}` : null,
                      rule.mode ? `mode ${rule.mode}` : null,
                      rule.tools === true ? 'with tools' : rule.tools === false ? 'without tools' : null,
                      rule.min_context_tokens ? `≥ ${rule.min_context_tokens} tokens` : null,
                    ]
                      .filter(Boolean)
                      .join(', ') || 'always'}
                  </td>
                  <td>
                    {rule.provider}
                    {rule.model ? `/${rule.model}` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
      <section className="card">
        <h3 className="card-title">Recent decisions</h3>
        {r.decisions.length === 0 ? (
          <p className="muted">No request was routed yet.</p>
        ) : (
          <ol className="ai-decisions" data-testid="ai-decisions">
            {r.decisions.map((d, i) => (
              <li key={`${d.at}-${i}`} data-testid="ai-decision">
                <div>
                  <RelativeTime value={d.at} /> · {d.task_kind} · {d.context_tokens} tokens{d.tools ? ' · tools' : ''} →{' '}
                  {d.provider ? (
                    <strong>
                      {d.provider}/{d.model}
                    </strong>
                  ) : (
                    <Badge tone="bad">no provider answered</Badge>
                  )}
                </div>
                <ul className="muted small">
                  {d.reasons.map((why, j) => (
                    <li key={j}>{why}</li>
                  ))}
                </ul>
              </li>
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}
