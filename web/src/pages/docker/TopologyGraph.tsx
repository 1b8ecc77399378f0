// The network topology (endpoint → network → container) drawn with cytoscape. This module and
// cytoscape load only when the Topology view opens.

import './topology.css';
import cytoscape, { type Core, type ElementDefinition } from 'cytoscape';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import type { NetworkTopology } from '../../api/types';
import { Icon } from '../../components/Icon';
import { containerPath } from '../../lib/containers';
import { topologyElements } from '../../lib/topology';

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export default function TopologyGraph({ data, theme }: { data: NetworkTopology; theme: string }) {
  const box = useRef<HTMLDivElement>(null);
  const cy = useRef<Core | null>(null);
  const navigate = useNavigate();
  const [selected, setSelected] = useState<string | null>(null);
  const elements = useMemo(() => topologyElements(data), [data]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const text = cssVar('--text', '#ddd');
    const muted = cssVar('--text-muted', '#999');
    const border = cssVar('--border-strong', '#444');
    const surface = cssVar('--surface-2', '#222');
    const instance = cytoscape({
      container: el,
      elements: elements as ElementDefinition[],
      wheelSensitivity: 0.3,
      minZoom: 0.2,
      maxZoom: 3,
      style: [
        {
          selector: 'node',
          style: {
            label: 'data(label)',
            color: text,
            'font-size': 11,
            'text-valign': 'bottom',
            'text-margin-y': 4,
            'text-wrap': 'ellipsis',
            'text-max-width': '120px',
            'background-color': surface,
            'border-width': 2,
            'border-color': border,
            width: 22,
            height: 22,
          },
        },
        { selector: 'node[type = "endpoint"]', style: { shape: 'round-rectangle', width: 34, height: 26, 'background-color': cssVar('--accent', '#4c8dff'), 'border-color': cssVar('--accent-strong', '#6aa1ff'), 'font-weight': 'bold' } },
        { selector: 'node[type = "network"]', style: { shape: 'diamond', 'background-color': cssVar('--info-soft', '#234'), 'border-color': cssVar('--info', '#58a6ff') } },
        { selector: 'node[type = "container"]', style: { shape: 'ellipse', width: 16, height: 16 } },
        { selector: 'node[state = "running"]', style: { 'background-color': cssVar('--ok', '#3fb950'), 'border-color': cssVar('--ok', '#3fb950') } },
        { selector: 'node[state = "paused"], node[state = "restarting"]', style: { 'background-color': cssVar('--warn', '#d7a12a'), 'border-color': cssVar('--warn', '#d7a12a') } },
        { selector: 'node[state = "exited"], node[state = "dead"], node[state = "created"]', style: { 'background-color': surface, 'border-color': muted } },
        { selector: 'edge', style: { width: 1.5, 'line-color': border, 'curve-style': 'bezier', opacity: 0.8 } },
        { selector: ':selected', style: { 'border-width': 3, 'border-color': cssVar('--focus', '#7aa9ff') } },
        { selector: '.faded', style: { opacity: 0.15 } },
      ],
      layout: {
        name: 'breadthfirst',
        directed: true,
        roots: elements.filter((e) => e.data.type === 'endpoint').map((e) => `#${CSS.escape(e.data.id)}`).join(','),
        spacingFactor: 1.15,
        padding: 24,
        animate: false,
      } as cytoscape.LayoutOptions,
    });
    instance.on('tap', 'node', (e) => {
      const n = e.target;
      setSelected(n.id());
      instance.elements().removeClass('faded');
      instance.elements().difference(n.closedNeighborhood()).addClass('faded');
    });
    instance.on('tap', (e) => {
      if (e.target === instance) {
        setSelected(null);
        instance.elements().removeClass('faded');
      }
    });
    instance.on('dbltap', 'node[type = "container"]', (e) => {
      const d = e.target.data() as { endpoint?: string; container?: string };
      if (d.endpoint && d.container) navigate(containerPath(d.endpoint, d.container));
    });
    cy.current = instance;
    return () => {
      instance.destroy();
      cy.current = null;
    };
  }, [elements, theme, navigate]);

  const sel = selected ? elements.find((e) => e.data.id === selected) : undefined;
  const counts = useMemo(() => {
    const c = { endpoint: 0, network: 0, container: 0 };
    for (const e of elements) if (e.data.type && e.data.type in c) c[e.data.type as keyof typeof c]++;
    return c;
  }, [elements]);

  return (
    <section className="card topology-card" aria-label="Network topology graph" data-testid="network-topology">
      <div className="card-header">
        <p className="muted small" aria-live="polite">
          {counts.endpoint} endpoints · {counts.network} networks · {counts.container} containers. Click a node to highlight its links; double-click a container to open it.
        </p>
        <div className="row-actions">
          <button type="button" className="icon-btn icon-btn-sm" aria-label="Zoom in" title="Zoom in" onClick={() => cy.current?.zoom(cy.current.zoom() * 1.2)}>
            <Icon name="plus" size={15} />
          </button>
          <button type="button" className="icon-btn icon-btn-sm" aria-label="Zoom out" title="Zoom out" onClick={() => cy.current?.zoom(cy.current.zoom() / 1.2)}>
            <Icon name="chevronDown" size={15} />
          </button>
          <button type="button" className="btn btn-sm" onClick={() => cy.current?.fit(undefined, 24)}>
            Fit
          </button>
        </div>
      </div>
      <div ref={box} className="topology-canvas" role="img" aria-label={`Graph of ${counts.network} networks and ${counts.container} containers; the List view has the same information as a table.`} />
      <div className="topology-legend small muted">
        <span>
          <span className="legend-swatch legend-endpoint" /> endpoint
        </span>
        <span>
          <span className="legend-swatch legend-network" /> network
        </span>
        <span>
          <span className="legend-swatch legend-running" /> running container
        </span>
        <span>
          <span className="legend-swatch legend-stopped" /> stopped container
        </span>
        {sel ? (
          <span className="topology-selected" data-testid="topology-selected">
            Selected: <strong>{String(sel.data.label)}</strong> ({String(sel.data.type)}
            {sel.data.state ? `, ${String(sel.data.state)}` : ''})
          </span>
        ) : null}
      </div>
    </section>
  );
}
