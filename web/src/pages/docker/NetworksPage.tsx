// Networks across endpoints: list, inspect, remove (409 while containers are attached), and the
// topology graph (cytoscape, loaded only when that view opens).

import { lazy, Suspense, useMemo, useState, type ReactNode } from 'react';
import { api } from '../../api/client';
import { useNetworkInspect, useNetworks, useNetworkTopology } from '../../api/docker';
import type { DockerNetwork } from '../../api/types';
import { useCan } from '../../auth/session';
import { EndpointErrors, JsonBlock } from '../../components/data';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { TabPanel, Tabs } from '../../components/Tabs';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Loading, PageHeader } from '../../components/ui';
import { shortId } from '../../lib/containers';
import { useTheme } from '../../lib/theme';
import { useUrlParams } from '../../lib/useUrlParams';
import { EndpointSelect } from './ContainersPage';

const TopologyGraph = lazy(() => import('./TopologyGraph'));

const KEYS = ['endpoint', 'q', 'view'] as const;
const BUILTIN = new Set(['bridge', 'host', 'none']);

function InspectDialog({ n, onClose }: { n: DockerNetwork; onClose: () => void }) {
  const inspect = useNetworkInspect(n.endpoint.id, n.id);
  return (
    <Dialog title={`Network ${n.name}`} size="lg" onClose={onClose} testId="network-inspect-dialog">
      {inspect.isPending ? <Loading /> : inspect.isError ? <ErrorState error={inspect.error} /> : <JsonBlock value={inspect.data} maxHeight={520} testId="network-inspect" />}
    </Dialog>
  );
}

function Topology({ endpoint }: { endpoint: string }) {
  const topo = useNetworkTopology(endpoint);
  const [theme] = useTheme();
  if (topo.isPending) return <Loading label="Loading topology…" />;
  if (topo.isError) return <ErrorState error={topo.error} onRetry={() => void topo.refetch()} />;
  if (topo.data.nodes.length === 0)
    return (
      <EmptyState icon="graph" title="Nothing to draw" testId="topology-empty">
        <p>No endpoint answered with networks.</p>
      </EmptyState>
    );
  return (
    <>
      <EndpointErrors errors={topo.data.errors} />
      <Suspense fallback={<Loading label="Loading the graph library…" />}>
        <TopologyGraph data={topo.data} theme={theme} />
      </Suspense>
    </>
  );
}

export default function NetworksPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const [p, update] = useUrlParams(KEYS);
  const view = p.view === 'topology' ? 'topology' : 'list';
  const list = useNetworks(p.endpoint);
  const [inspecting, setInspecting] = useState<DockerNetwork | null>(null);
  const [removing, setRemoving] = useState<DockerNetwork | null>(null);
  const items = useMemo(() => {
    const all = list.data?.items ?? [];
    const n = p.q.toLowerCase();
    return n ? all.filter((x) => x.name.toLowerCase().includes(n) || x.containers.some((c) => c.toLowerCase().includes(n))) : all;
  }, [list.data, p.q]);

  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (items.length === 0)
    body = (
      <EmptyState icon="network" title={p.q ? 'No matching networks' : 'No networks yet'} testId="networks-empty">
        <p>{p.q ? 'Nothing matches the filter.' : 'Docker networks on the master’s engine and on fused nodes appear here.'}</p>
      </EmptyState>
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table" data-testid="networks-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Driver</th>
              <th scope="col">Scope</th>
              <th scope="col">Containers</th>
              <th scope="col">Endpoint</th>
              <th scope="col">ID</th>
              <th scope="col" className="actions-col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((n) => (
              <tr key={`${n.endpoint.id}/${n.id}`} data-testid="network-row" data-name={n.name}>
                <td>
                  <strong>{n.name}</strong> {n.internal ? <Badge tone="info">internal</Badge> : null}
                </td>
                <td>{n.driver}</td>
                <td>{n.scope}</td>
                <td className="small">{n.containers.length ? n.containers.join(', ') : <span className="muted">—</span>}</td>
                <td>{n.endpoint.name}</td>
                <td>
                  <code className="mono-cell">{shortId(n.id)}</code>
                </td>
                <td className="actions-col">
                  <div className="row-actions">
                    <button type="button" className="icon-btn icon-btn-sm" aria-label={`Inspect network ${n.name}`} title="Inspect" onClick={() => setInspecting(n)} data-testid="network-inspect-btn">
                      <Icon name="eye" size={15} />
                    </button>
                    {canOperate && !BUILTIN.has(n.name) ? (
                      <button type="button" className="icon-btn icon-btn-sm icon-btn-danger" aria-label={`Remove network ${n.name}`} title="Remove" onClick={() => setRemoving(n)} data-testid="network-remove">
                        <Icon name="trash" size={15} />
                      </button>
                    ) : null}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );

  return (
    <div className="page" data-testid="page-networks">
      <PageHeader title="Networks" description="Docker networks across the fleet, and how containers connect through them." />
      <Tabs
        label="Networks view"
        idBase="net"
        value={view}
        onChange={(v) => update({ view: v === 'list' ? '' : v })}
        tabs={[
          { id: 'list', label: 'List', testId: 'networks-view-list' },
          { id: 'topology', label: 'Topology', testId: 'networks-view-topology' },
        ]}
      />
      <div className="toolbar toolbar-wrap">
        {view === 'list' ? (
          <div className="search">
            <Icon name="search" size={16} />
            <input type="search" placeholder="Name or container…" aria-label="Filter networks" value={p.q} onChange={(e) => update({ q: e.target.value })} />
          </div>
        ) : null}
        <label className="inline-field">
          <span>Endpoint</span>
          <EndpointSelect value={p.endpoint} onChange={(v) => update({ endpoint: v })} />
        </label>
        {view === 'list' && list.data ? <span className="muted small">{items.length} networks</span> : null}
      </div>
      <TabPanel idBase="net" id={view}>
        {view === 'list' ? (
          <>
            <EndpointErrors errors={list.data?.errors} />
            {body}
          </>
        ) : (
          <Topology endpoint={p.endpoint} />
        )}
      </TabPanel>
      {inspecting ? <InspectDialog n={inspecting} onClose={() => setInspecting(null)} /> : null}
      {removing ? (
        <ConfirmDialog
          title="Remove network"
          danger
          confirmLabel="Remove network"
          testId="remove-network-dialog"
          message={
            <p>
              Remove <strong>{removing.name}</strong> from <strong>{removing.endpoint.name}</strong>?
              {removing.containers.length ? ` Containers attached: ${removing.containers.join(', ')} — Docker refuses while they are.` : ''}
            </p>
          }
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api.del(`/api/networks/${encodeURIComponent(removing.id)}`, { query: { endpoint: removing.endpoint.id } });
            toast.success(`Network ${removing.name} removed`);
          }}
        />
      ) : null}
    </div>
  );
}
