// Networks across endpoints: list, inspect, remove (409 while containers are attached), and the
// topology graph (cytoscape, loaded only when that view opens).

import { lazy, Suspense, useState } from 'react';
import { api } from '../../api/client';
import { useNetworkInspect, useNetworks, useNetworkTopology } from '../../api/docker';
import type { DockerNetwork } from '../../api/types';
import { EndpointErrors, JsonBlock } from '../../components/data';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { pageQuery, ResourceTable, useTableParams, type Column, type RowAction } from '../../components/ResourceTable';
import { TabPanel, Tabs } from '../../components/Tabs';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Loading, PageHeader } from '../../components/ui';
import { shortId } from '../../lib/containers';
import { useTheme } from '../../lib/theme';
import { EndpointSelect } from './ContainersPage';

const TopologyGraph = lazy(() => import('./TopologyGraph'));

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
  const toast = useToast();
  const table = useTableParams(['endpoint', 'view']);
  const endpoint = table.params.extra.endpoint ?? '';
  const view = table.params.extra.view === 'topology' ? 'topology' : 'list';
  const list = useNetworks({ endpoint, ...pageQuery(table.params) });
  const [inspecting, setInspecting] = useState<DockerNetwork | null>(null);
  const [removing, setRemoving] = useState<DockerNetwork | null>(null);

  const columns: Column<DockerNetwork>[] = [
    {
      key: 'name',
      header: 'Name',
      sortValue: (n) => n.name,
      cell: (n) => (
        <>
          <strong>{n.name}</strong> {n.internal ? <Badge tone="info">internal</Badge> : null}
        </>
      ),
    },
    { key: 'driver', header: 'Driver', sortValue: (n) => n.driver, cell: (n) => n.driver },
    { key: 'scope', header: 'Scope', sortValue: (n) => n.scope, cell: (n) => n.scope },
    {
      key: 'containers',
      header: 'Containers',
      className: 'small',
      sortValue: (n) => n.containers.length,
      cell: (n) => (n.containers.length ? n.containers.join(', ') : <span className="muted">—</span>),
    },
    { key: 'endpoint', header: 'Endpoint', sortValue: (n) => n.endpoint.name, cell: (n) => n.endpoint.name },
    { key: 'id', header: 'ID', cell: (n) => <code className="mono-cell">{shortId(n.id)}</code> },
  ];
  const actions: RowAction<DockerNetwork>[] = [
    { label: (n) => `Inspect network ${n.name}`, title: 'Inspect', icon: 'eye', role: 'viewer', testId: 'network-inspect-btn', onClick: setInspecting },
    {
      label: (n) => `Remove network ${n.name}`,
      title: 'Remove',
      icon: 'trash',
      danger: true,
      testId: 'network-remove',
      hidden: (n) => BUILTIN.has(n.name),
      onClick: setRemoving,
    },
  ];
  const endpointSelect = (
    <label className="inline-field">
      <span>Endpoint</span>
      <EndpointSelect value={endpoint} onChange={(v) => table.update({ endpoint: v })} />
    </label>
  );

  return (
    <div className="page" data-testid="page-networks">
      <PageHeader title="Networks" description="Docker networks across the fleet, and how containers connect through them." />
      <Tabs
        label="Networks view"
        idBase="net"
        value={view}
        onChange={(v) => table.update({ view: v === 'list' ? '' : v })}
        tabs={[
          { id: 'list', label: 'List', testId: 'networks-view-list' },
          { id: 'topology', label: 'Topology', testId: 'networks-view-topology' },
        ]}
      />
      <TabPanel idBase="net" id={view}>
        {view === 'list' ? (
          <ResourceTable
            query={list}
            state={table}
            columns={columns}
            rowKey={(n) => `${n.endpoint.id}/${n.id}`}
            rowProps={(n) => ({ 'data-testid': 'network-row', 'data-name': n.name })}
            actions={actions}
            filter={{ label: 'Filter networks', placeholder: 'Name or container…', text: (n) => `${n.name} ${n.containers.join(' ')}` }}
            toolbar={endpointSelect}
            empty={{ icon: 'network', title: 'No networks yet', filteredTitle: 'No matching networks', body: <p>Docker networks on the master’s engine and on fused nodes appear here.</p> }}
            noun="networks"
            testId="networks-table"
          />
        ) : (
          <>
            <div className="toolbar toolbar-wrap">{endpointSelect}</div>
            <Topology endpoint={endpoint} />
          </>
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
