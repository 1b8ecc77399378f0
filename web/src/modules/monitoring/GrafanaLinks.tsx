// Links into Grafana's dashboards when Grafana is configured (monitoring settings grafana_url
// and grafana_token); nothing at all otherwise.

import { errorMessage } from '../../api/client';
import { useGrafanaDashboards } from './api';

export default function GrafanaLinks() {
  const q = useGrafanaDashboards();
  if (q.isPending || q.data === null) return null;
  if (q.isError) {
    return (
      <p className="muted small" role="status" data-testid="grafana-error">
        Grafana: {errorMessage(q.error)}
      </p>
    );
  }
  if (q.data.length === 0) {
    return (
      <p className="muted small" data-testid="grafana-links">
        Grafana is configured but has no dashboards yet.
      </p>
    );
  }
  return (
    <nav className="grafana-links" aria-label="Grafana dashboards" data-testid="grafana-links">
      <span className="muted small">Grafana:</span>
      {q.data.map((d) => (
        <a key={d.uid} href={d.url} target="_blank" rel="noreferrer noopener" className="btn btn-sm" data-testid="grafana-link">
          {d.title} <span aria-hidden="true">↗</span>
        </a>
      ))}
    </nav>
  );
}
