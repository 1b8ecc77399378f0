// PromQL query page: the expression runs as a range query (chart) over the picked range and as an
// instant query at the range's end (table); Prometheus' errors are shown as it words them.

import { useQuery } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { errorMessage } from '../../api/client';
import { PageHeader } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { useUrlParams } from '../../lib/useUrlParams';
import { monitoringKeys, queryInstant } from './api';
import ChartPanel from './ChartPanel';
import GrafanaLinks from './GrafanaLinks';
import { instantRows, rangeFromParam, rangeToParam, type InstantRow } from './promql';
import RangePicker from './RangePicker';
import { useResolvedRange } from './useRange';
import './monitoring.css';

const KEYS = ['q', 'range'] as const;
const MAX_ROWS = 500;

export default function QueryPage() {
  const [p, update] = useUrlParams(KEYS);
  const [text, setText] = useState(p.q);
  const expr = p.q.trim();
  const range = useMemo(() => rangeFromParam(p.range), [p.range]);
  const { start, end, step } = useResolvedRange(range);

  const instant = useQuery({
    queryKey: monitoringKeys.instant(expr, end),
    queryFn: ({ signal }) => queryInstant(expr, end, signal),
    enabled: expr !== '',
    retry: false,
  });
  let rows: InstantRow[] | null = null;
  let tableError: string | null = null;
  if (instant.isError) tableError = errorMessage(instant.error);
  else if (instant.data) {
    try {
      rows = instantRows(instant.data);
    } catch (e) {
      tableError = errorMessage(e);
    }
  }

  const run = (e: FormEvent) => {
    e.preventDefault();
    const next = text.trim();
    if (next === p.q.trim()) void instant.refetch();
    update({ q: next });
  };

  return (
    <div className="page" data-testid="page-query">
      <PageHeader title="Query" description="Run PromQL against Prometheus: a chart over the range and a table at its end." />
      <GrafanaLinks />
      <form className="query-form card" onSubmit={run} data-testid="query-form">
        <label htmlFor="promql" className="sr-only">
          PromQL expression
        </label>
        <textarea
          id="promql"
          className="mono query-input"
          rows={3}
          spellCheck={false}
          placeholder='e.g. rate(contextbay_http_requests_total[5m])'
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(e);
          }}
          data-testid="query-input"
        />
        <div className="query-actions">
          <RangePicker value={range} onChange={(r) => update({ range: rangeToParam(r) === '1h' ? '' : rangeToParam(r) })} />
          <button type="submit" className="btn btn-primary" disabled={!text.trim()} data-testid="query-run">
            Run
          </button>
          <span className="muted small">Ctrl+Enter runs it</span>
        </div>
      </form>
      {expr ? (
        <>
          <ChartPanel title="Over the range" expr={expr} unit="number" start={start} end={end} step={step} testId="query-chart" />
          <section className="card" data-testid="query-table-card">
            <header className="chart-panel-head">
              <h2>At {formatDateTime(end * 1000)}</h2>
              {rows ? <span className="muted small">{rows.length} series</span> : null}
            </header>
            {tableError ? (
              <p className="chart-panel-error" role="alert" data-testid="query-error">
                {tableError}
              </p>
            ) : rows === null ? (
              <div className="chart-panel-placeholder muted small">Loading…</div>
            ) : rows.length === 0 ? (
              <div className="chart-panel-placeholder muted small" data-testid="query-empty">
                No series match at this time.
              </div>
            ) : (
              <div className="table-wrap">
                <table className="table" data-testid="query-table">
                  <thead>
                    <tr>
                      <th scope="col">Series</th>
                      <th scope="col" className="num">
                        Value
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.slice(0, MAX_ROWS).map((r) => (
                      <tr key={r.series} data-testid="query-row">
                        <td>
                          <code className="mono-cell" title={r.series}>
                            {r.series}
                          </code>
                        </td>
                        <td className="num mono">{r.value}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {rows.length > MAX_ROWS ? <p className="muted small">Showing the first {MAX_ROWS} of {rows.length} series.</p> : null}
              </div>
            )}
          </section>
        </>
      ) : null}
    </div>
  );
}
