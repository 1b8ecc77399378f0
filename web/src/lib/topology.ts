// `GET /api/networks/topology` → graph elements (cytoscape's shape, but plain data: no import).

import type { NetworkTopology } from '../api/types';

export interface GraphElement {
  group: 'nodes' | 'edges';
  data: { id: string; label?: string; type?: string; state?: string; source?: string; target?: string; endpoint?: string; container?: string };
}

/**
 * Nodes as they come; edges only between nodes that exist (an endpoint that did not answer
 * leaves containers pointing at networks that are not listed). Container node ids are
 * `container:<endpoint>:<id>`, which gives the link to the container page.
 */
export function topologyElements(t: NetworkTopology): GraphElement[] {
  const ids = new Set(t.nodes.map((n) => n.id));
  const nodes: GraphElement[] = t.nodes.map((n) => {
    const data: GraphElement['data'] = { id: n.id, label: n.label, type: n.type };
    if (typeof n.state === 'string') data.state = n.state;
    if (n.type === 'container') {
      const m = /^container:([^:]+):(.+)$/.exec(n.id);
      if (m) {
        data.endpoint = m[1];
        data.container = m[2];
      }
    }
    return { group: 'nodes', data };
  });
  const seen = new Set<string>();
  const edges: GraphElement[] = [];
  for (const e of t.edges) {
    if (!ids.has(e.from) || !ids.has(e.to)) continue;
    const id = `${e.from}->${e.to}`;
    if (seen.has(id)) continue;
    seen.add(id);
    edges.push({ group: 'edges', data: { id, source: e.from, target: e.to } });
  }
  return [...nodes, ...edges];
}
