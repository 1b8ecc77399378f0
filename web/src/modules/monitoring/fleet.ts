// The fleet charts' PromQL over the series the master exports on /metrics (docs/monitoring.md):
// `contextbay_node_*` with `node` and `hostname` labels, `contextbay_container_*` with `container`
// as well: CPU, memory, and network and block I/O (counters since the container started, shown
// as rates) per container.

import { promString } from './promql';

export type Scope = 'nodes' | 'containers';
export type Unit = 'percent' | 'bytes' | 'bytesPerSecond';

export interface Panel {
  id: string;
  title: string;
  unit: Unit;
  /** PromQL, one series per node (or container). */
  expr: string;
  legend: (m: Record<string, string>) => string;
}

/** At most this many containers per chart (the busiest), so a chart stays readable. */
export const TOP_CONTAINERS = 10;

function selector(hostname: string): string {
  return hostname ? `{hostname=${promString(hostname)}}` : '';
}

const nodeLegend = (m: Record<string, string>) => m.hostname || m.node || '?';
const containerLegend = (m: Record<string, string>) => `${m.hostname || m.node || '?'}/${m.container || '?'}`;

export function fleetPanels(scope: Scope, hostname = ''): Panel[] {
  const s = selector(hostname);
  if (scope === 'containers') {
    return [
      {
        id: 'container-cpu',
        title: 'CPU',
        unit: 'percent',
        expr: `topk(${TOP_CONTAINERS}, contextbay_container_cpu_percent${s})`,
        legend: containerLegend,
      },
      {
        id: 'container-memory',
        title: 'Memory',
        unit: 'bytes',
        expr: `topk(${TOP_CONTAINERS}, contextbay_container_memory_used_bytes${s})`,
        legend: containerLegend,
      },
      {
        id: 'container-network-rx',
        title: 'Network received',
        unit: 'bytesPerSecond',
        expr: `topk(${TOP_CONTAINERS}, rate(contextbay_container_network_receive_bytes${s}[1m]))`,
        legend: containerLegend,
      },
      {
        id: 'container-network-tx',
        title: 'Network sent',
        unit: 'bytesPerSecond',
        expr: `topk(${TOP_CONTAINERS}, rate(contextbay_container_network_transmit_bytes${s}[1m]))`,
        legend: containerLegend,
      },
      {
        id: 'container-disk-read',
        title: 'Disk read',
        unit: 'bytesPerSecond',
        expr: `topk(${TOP_CONTAINERS}, rate(contextbay_container_block_read_bytes${s}[1m]))`,
        legend: containerLegend,
      },
      {
        id: 'container-disk-write',
        title: 'Disk written',
        unit: 'bytesPerSecond',
        expr: `topk(${TOP_CONTAINERS}, rate(contextbay_container_block_write_bytes${s}[1m]))`,
        legend: containerLegend,
      },
    ];
  }
  return [
    { id: 'node-cpu', title: 'CPU', unit: 'percent', expr: `contextbay_node_cpu_percent${s}`, legend: nodeLegend },
    {
      id: 'node-memory',
      title: 'Memory',
      unit: 'percent',
      expr: `100 * contextbay_node_memory_used_bytes${s} / contextbay_node_memory_total_bytes${s}`,
      legend: nodeLegend,
    },
    {
      id: 'node-disk',
      title: 'Disk (all filesystems)',
      unit: 'percent',
      expr: `100 * sum by (node, hostname) (contextbay_node_disk_used_bytes${s}) / sum by (node, hostname) (contextbay_node_disk_total_bytes${s})`,
      legend: nodeLegend,
    },
    {
      id: 'node-network-rx',
      title: 'Network received',
      unit: 'bytesPerSecond',
      expr: `sum by (node, hostname) (rate(contextbay_node_network_receive_bytes${s}[1m]))`,
      legend: nodeLegend,
    },
    {
      id: 'node-network-tx',
      title: 'Network sent',
      unit: 'bytesPerSecond',
      expr: `sum by (node, hostname) (rate(contextbay_node_network_transmit_bytes${s}[1m]))`,
      legend: nodeLegend,
    },
  ];
}
