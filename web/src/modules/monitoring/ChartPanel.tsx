// One chart of a PromQL range query: loading, Prometheus' error, "no data", or the chart.

import { errorMessage } from '../../api/client';
import { Spinner } from '../../components/ui';
import { useRangeQuery } from './api';
import type { Unit } from './fleet';
import { matrixSeries, type ChartSeries } from './promql';
import TimeSeriesChart from './TimeSeriesChart';

export default function ChartPanel({
  title,
  expr,
  unit,
  legend,
  start,
  end,
  step,
  testId,
}: {
  title: string;
  expr: string;
  unit: Unit | 'number';
  legend?: (m: Record<string, string>) => string;
  start: number;
  end: number;
  step: number;
  testId: string;
}) {
  const q = useRangeQuery(expr, start, end, step);
  let series: ChartSeries[] | null = null;
  let problem: string | null = null;
  if (q.isError) problem = errorMessage(q.error);
  else if (q.data) {
    try {
      series = matrixSeries(q.data, legend);
    } catch (e) {
      problem = errorMessage(e);
    }
  }
  return (
    <section className="card chart-panel" data-testid={testId} data-state={problem ? 'error' : series ? (series.length ? 'data' : 'empty') : 'loading'}>
      <header className="chart-panel-head">
        <h2>{title}</h2>
        {q.isFetching ? <Spinner label="Refreshing" /> : null}
      </header>
      {problem ? (
        <p className="chart-panel-error" role="alert" data-testid="chart-error">
          {problem}
        </p>
      ) : series === null ? (
        <div className="chart-panel-placeholder muted small">Loading…</div>
      ) : series.length === 0 ? (
        <div className="chart-panel-placeholder muted small" data-testid="chart-empty">
          No data in this range.
        </div>
      ) : (
        <TimeSeriesChart series={series} unit={unit} range={[start, end]} testId={`${testId}-chart`} />
      )}
      <details className="chart-panel-expr">
        <summary className="muted small">PromQL</summary>
        <code>{expr}</code>
      </details>
    </section>
  );
}
