// Fleet charts: CPU, memory, disk and network per node and per container, over a
// picked range, from Prometheus through the PromQL proxy (query_range).

import { useMemo } from 'react';
import { PageHeader } from '../../components/ui';
import { useUrlParams } from '../../lib/useUrlParams';
import { useLabelValues } from './api';
import ChartPanel from './ChartPanel';
import { fleetPanels, TOP_CONTAINERS, type Scope } from './fleet';
import GrafanaLinks from './GrafanaLinks';
import { rangeFromParam, rangeToParam } from './promql';
import RangePicker from './RangePicker';
import { useResolvedRange } from './useRange';
import './monitoring.css';

const KEYS = ['scope', 'host', 'range'] as const;

export default function FleetChartsPage() {
  const [p, update] = useUrlParams(KEYS);
  const scope: Scope = p.scope === 'containers' ? 'containers' : 'nodes';
  const range = useMemo(() => rangeFromParam(p.range), [p.range]);
  const { start, end, step } = useResolvedRange(range);
  const hosts = useLabelValues('hostname');
  const panels = useMemo(() => fleetPanels(scope, p.host), [scope, p.host]);

  return (
    <div className="page" data-testid="page-metrics">
      <PageHeader title="Metrics" description="Fleet resource use from Prometheus, per node and per container." />
      <GrafanaLinks />
      <div className="toolbar toolbar-wrap">
        <div className="segmented" role="group" aria-label="Scope">
          {(['nodes', 'containers'] as const).map((s) => (
            <button key={s} type="button" aria-pressed={scope === s} data-testid={`scope-${s}`} onClick={() => update({ scope: s === 'nodes' ? '' : s })}>
              {s === 'nodes' ? 'Nodes' : 'Containers'}
            </button>
          ))}
        </div>
        <label className="inline-field">
          <span>Host</span>
          <select value={p.host} onChange={(e) => update({ host: e.target.value })} data-testid="metrics-host">
            <option value="">All hosts</option>
            {(hosts.data ?? []).map((h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
        </label>
        <RangePicker value={range} onChange={(r) => update({ range: rangeToParam(r) === '1h' ? '' : rangeToParam(r) })} />
      </div>
      {scope === 'containers' ? (
        <p className="muted small">
          The busiest {TOP_CONTAINERS} containers per chart; network and disk are rates of the container's I/O since it started.
        </p>
      ) : null}
      <div className="chart-grid">
        {panels.map((panel) => (
          <ChartPanel
            key={panel.id}
            title={panel.title}
            expr={panel.expr}
            unit={panel.unit}
            legend={panel.legend}
            start={start}
            end={end}
            step={step}
            testId={`panel-${panel.id}`}
          />
        ))}
      </div>
    </div>
  );
}
