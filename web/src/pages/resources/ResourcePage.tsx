// Fleet-side lists whose API is not served yet (stacks). A 404 renders the empty state. The
// columns read the first present of a few likely field names so the page works as soon as the
// master serves it; stack.* events invalidate it (see live/reducer.ts).

import { useMemo, useState, type ReactNode } from 'react';
import { useResourceList } from '../../api/hooks';
import type { ResourceKind } from '../../api/keys';
import type { IconName } from '../../components/Icon';
import { Icon } from '../../components/Icon';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, RelativeTime, type Tone } from '../../components/ui';

type Row = Record<string, unknown>;

interface Column {
  header: string;
  render: (row: Row) => ReactNode;
  className?: string;
}

export interface ResourceConfig {
  kind: ResourceKind;
  path: string;
  title: string;
  description: string;
  icon: IconName;
  emptyTitle: string;
  emptyText: string;
  columns: Column[];
  testId: string;
}

function pick(row: Row, ...names: string[]): unknown {
  for (const n of names) {
    const v = row[n];
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

function text(row: Row, ...names: string[]): string {
  const v = pick(row, ...names);
  if (v === undefined) return '—';
  if (Array.isArray(v)) return v.map(String).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const STATE_TONE: Record<string, Tone> = {
  healthy: 'ok',
  running: 'ok',
  online: 'ok',
  active: 'ok',
  stale: 'warn',
  paused: 'warn',
  restarting: 'warn',
  pending: 'warn',
  created: 'neutral',
  offline: 'bad',
  exited: 'bad',
  dead: 'bad',
  failed: 'bad',
  stopped: 'neutral',
};

function StateBadge({ value }: { value: unknown }) {
  if (value === undefined || value === null || value === '') return <span className="muted">—</span>;
  const s = String(value);
  return (
    <Badge tone={STATE_TONE[s.toLowerCase()] ?? 'neutral'} dot>
      {s}
    </Badge>
  );
}

const nodeColumn: Column = { header: 'Node', render: (r) => text(r, 'node_name', 'node', 'endpoint', 'node_id') };

export const RESOURCES: Record<ResourceKind, ResourceConfig> = {
  stacks: {
    kind: 'stacks',
    path: '/api/stacks',
    title: 'Stacks',
    description: 'Compose projects, including the ones adopted from hosts.',
    icon: 'layers',
    emptyTitle: 'No stacks yet',
    emptyText: 'Compose projects found on enrolled hosts are adopted automatically and appear here.',
    testId: 'stacks',
    columns: [
      { header: 'Name', render: (r) => <strong>{text(r, 'name', 'project')}</strong> },
      { header: 'Status', render: (r) => <StateBadge value={pick(r, 'status', 'state')} /> },
      nodeColumn,
      { header: 'Services', render: (r) => text(r, 'services', 'service_count'), className: 'num' },
      { header: 'Updated', render: (r) => <RelativeTime value={pick(r, 'updated_at', 'created_at') as string | undefined} /> },
    ],
  },
};

function matches(row: Row, q: string): boolean {
  const needle = q.toLowerCase();
  return Object.values(row).some((v) => (typeof v === 'string' || typeof v === 'number') && String(v).toLowerCase().includes(needle));
}

export function ResourcePage({ config }: { config: ResourceConfig }) {
  const list = useResourceList(config.kind, config.path);
  const [q, setQ] = useState('');
  const items = useMemo(() => list.data?.items ?? [], [list.data]);
  const shown = useMemo(() => (q ? items.filter((r) => matches(r, q)) : items), [items, q]);

  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (items.length === 0)
    body = (
      <EmptyState icon={config.icon} title={config.emptyTitle} testId={`${config.testId}-empty`}>
        <p>{config.emptyText}</p>
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="toolbar">
          <div className="search">
            <Icon name="search" size={16} />
            <input
              type="search"
              placeholder={`Filter ${config.title.toLowerCase()}…`}
              aria-label={`Filter ${config.title.toLowerCase()}`}
              value={q}
              onChange={(e) => setQ(e.target.value)}
            />
          </div>
          <span className="muted small">
            {shown.length} of {list.data?.total ?? items.length}
          </span>
        </div>
        <div className="table-wrap">
          <table className="table" data-testid={`${config.testId}-table`}>
            <thead>
              <tr>
                {config.columns.map((c) => (
                  <th key={c.header} scope="col" className={c.className}>
                    {c.header}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((row, i) => (
                <tr key={String(row.id ?? row.Id ?? row.name ?? row.Name ?? i)} data-testid={`${config.testId}-row`}>
                  {config.columns.map((c) => (
                    <td key={c.header} className={c.className}>
                      {c.render(row)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </>
    );

  return (
    <div className="page" data-testid={`page-${config.testId}`}>
      <PageHeader title={config.title} description={config.description} />
      {body}
    </div>
  );
}

export default function ResourceRoute({ kind }: { kind: ResourceKind }) {
  return <ResourcePage key={kind} config={RESOURCES[kind]} />;
}
