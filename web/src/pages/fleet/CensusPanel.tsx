// A node's deep-system census: the latest snapshot by section, a refresh, and the diff against
// the previous one.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type ReactNode } from 'react';
import { api } from '../../api/client';
import { useNodeCensus, useNodeCensusDiff } from '../../api/fleet';
import { qk } from '../../api/keys';
import type { Census, CensusDiff } from '../../api/types';
import { JsonBlock } from '../../components/data';
import { Icon } from '../../components/Icon';
import { Badge, ErrorState, InlineError, Loading, RelativeTime } from '../../components/ui';
import { formatBytes, formatDateTime } from '../../lib/format';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : isObj(v) && Array.isArray(v.items) ? v.items.filter(isObj) : []);
const s = (v: unknown): string => (v === null || v === undefined || v === '' ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const bytes = (v: unknown) => (typeof v === 'number' ? formatBytes(v) : '—');

function Section({ title, count, children, open }: { title: string; count?: number; children: ReactNode; open?: boolean }) {
  return (
    <details className="census-section" open={open}>
      <summary>
        <Icon name="chevronRight" size={14} className="chev" /> {title}
        {count !== undefined ? <span className="muted small"> ({count})</span> : null}
      </summary>
      <div className="census-body">{children}</div>
    </details>
  );
}

function SimpleTable({ rows, cols }: { rows: Obj[]; cols: [string, string, ((r: Obj) => ReactNode)?][] }) {
  if (rows.length === 0) return <p className="muted small">None.</p>;
  return (
    <div className="table-wrap">
      <table className="table table-dense">
        <thead>
          <tr>
            {cols.map(([, h]) => (
              <th key={h} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              {cols.map(([k, h, render]) => (
                <td key={h}>{render ? render(r) : s(r[k])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Packages({ data }: { data: unknown }) {
  const [q, setQ] = useState('');
  const all = arr(data);
  const manager = isObj(data) ? s(data.manager) : null;
  const shown = useMemo(() => {
    const n = q.toLowerCase();
    return (n ? all.filter((p) => s(p.name).toLowerCase().includes(n)) : all).slice(0, 200);
  }, [all, q]);
  return (
    <Section title={`Packages${manager && manager !== '—' ? ` (${manager})` : ''}`} count={all.length}>
      <div className="search search-sm">
        <Icon name="search" size={14} />
        <input type="search" placeholder="Filter packages…" aria-label="Filter packages" value={q} onChange={(e) => setQ(e.target.value)} />
      </div>
      <SimpleTable rows={shown} cols={[['name', 'Name'], ['version', 'Version']]} />
      {shown.length === 200 ? <p className="muted small">First 200 shown; filter to narrow.</p> : null}
    </Section>
  );
}

function CensusSections({ census }: { census: Census }) {
  const d: Obj = census.data ?? {};
  const os = isObj(d.os_release) ? d.os_release : {};
  const cpu = isObj(d.cpu) ? d.cpu : {};
  const mem = isObj(d.memory) ? d.memory : {};
  const docker = isObj(d.docker) ? d.docker : null;
  const errors = isObj(d.errors) ? Object.entries(d.errors) : [];
  const known = new Set(['arch', 'collected_at_unix_ms', 'cpu', 'docker', 'errors', 'filesystems', 'hostname', 'kernel', 'listening_ports', 'memory', 'network_interfaces', 'os_release', 'packages', 'services']);
  const others = Object.entries(d).filter(([k]) => !known.has(k));
  return (
    <div className="census" data-testid="census-sections">
      <Section title="System" open>
        <dl className="kv">
          <dt>Hostname</dt>
          <dd>{s(d.hostname)}</dd>
          <dt>OS</dt>
          <dd>{s(os.PRETTY_NAME ?? os.NAME)}</dd>
          <dt>Kernel</dt>
          <dd>{s(d.kernel)}</dd>
          <dt>Architecture</dt>
          <dd>{s(d.arch)}</dd>
          <dt>CPU</dt>
          <dd>
            {s(cpu.model)} · {s(cpu.cores)} cores
          </dd>
          <dt>Memory</dt>
          <dd>
            {bytes(mem.total_bytes)} (swap {bytes(mem.swap_total_bytes)}){mem.cgroup_limited === true ? ' · cgroup-limited' : ''}
          </dd>
        </dl>
      </Section>
      <Section title="Filesystems" count={arr(d.filesystems).length}>
        <SimpleTable
          rows={arr(d.filesystems)}
          cols={[
            ['mount', 'Mount'],
            ['device', 'Device'],
            ['fs_type', 'Type'],
            ['used_bytes', 'Used', (r) => bytes(r.used_bytes)],
            ['total_bytes', 'Size', (r) => bytes(r.total_bytes)],
          ]}
        />
      </Section>
      <Section title="Network interfaces" count={arr(d.network_interfaces).length}>
        <SimpleTable
          rows={arr(d.network_interfaces)}
          cols={[
            ['name', 'Name'],
            ['state', 'State'],
            ['addresses', 'Addresses', (r) => (Array.isArray(r.addresses) ? r.addresses.join(', ') : s(r.addresses))],
            ['mac', 'MAC'],
            ['mtu', 'MTU'],
          ]}
        />
      </Section>
      <Section title="Listening ports" count={arr(d.listening_ports).length}>
        <SimpleTable rows={arr(d.listening_ports)} cols={[['protocol', 'Protocol'], ['address', 'Address'], ['port', 'Port'], ['process', 'Process']]} />
      </Section>
      <Packages data={d.packages} />
      {docker ? (
        <Section title={`Docker ${s(docker.version)}`}>
          <p className="muted small">API {s(docker.api_version)}</p>
          <JsonBlock value={docker.info} maxHeight={360} />
        </Section>
      ) : (
        <Section title="Docker">
          <p className="muted">The worker found no Docker engine.</p>
        </Section>
      )}
      <Section title="Services" count={arr(d.services).length}>
        {d.services === null || d.services === undefined ? <p className="muted small">Not collected on this host.</p> : <JsonBlock value={d.services} maxHeight={360} />}
      </Section>
      {errors.length ? (
        <Section title="Collection errors" count={errors.length} open>
          <ul className="plain-list">
            {errors.map(([k, v]) => (
              <li key={k}>
                <code>{k}</code>: {s(v)}
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
      {others.map(([k, v]) => (
        <Section key={k} title={k}>
          <JsonBlock value={v} maxHeight={360} />
        </Section>
      ))}
    </div>
  );
}

const MAX_ROWS = 300;

function DiffTable({ title, tone, rows, render }: { title: string; tone: 'ok' | 'bad' | 'warn'; rows: CensusDiff['added'] | CensusDiff['changed']; render: (r: never) => ReactNode }) {
  const [all, setAll] = useState(false);
  if (rows.length === 0) return null;
  const shown = all ? rows : rows.slice(0, MAX_ROWS);
  return (
    <div className="diff-group" data-testid={`census-diff-${title.toLowerCase()}`}>
      <h3 className="diff-title">
        <Badge tone={tone}>{title}</Badge> <span className="muted small">{rows.length}</span>
      </h3>
      <div className="table-wrap">
        <table className="table table-dense diff-table">
          <tbody>
            {shown.map((r) => (
              <tr key={r.path}>
                <td className="diff-path">
                  <code>{r.path}</code>
                </td>
                <td>{render(r as never)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.length > MAX_ROWS && !all ? (
        <button type="button" className="btn btn-sm" onClick={() => setAll(true)}>
          Show all {rows.length}
        </button>
      ) : null}
    </div>
  );
}

const v = (x: unknown) => <code className="diff-value">{typeof x === 'string' ? x : JSON.stringify(x)}</code>;

function Diff({ nodeId }: { nodeId: string }) {
  const diff = useNodeCensusDiff(nodeId);
  if (diff.isPending) return <Loading />;
  if (diff.isError) return <ErrorState error={diff.error} onRetry={() => void diff.refetch()} />;
  if (!diff.data)
    return (
      <p className="muted" data-testid="census-diff-none">
        A diff needs two censuses. Take another one to see what changed.
      </p>
    );
  const d = diff.data;
  const none = d.added.length + d.removed.length + d.changed.length === 0;
  return (
    <div data-testid="census-diff">
      <p className="muted small">
        {formatDateTime(d.from.ts)} → {formatDateTime(d.to.ts)} · {d.added.length} added, {d.removed.length} removed, {d.changed.length} changed
      </p>
      {none ? <p className="muted">Nothing changed between the two censuses (volatile fields like uptime are ignored).</p> : null}
      <DiffTable title="Changed" tone="warn" rows={d.changed} render={(r: CensusDiff['changed'][number]) => <>{v(r.from)} → {v(r.to)}</>} />
      <DiffTable title="Added" tone="ok" rows={d.added} render={(r: CensusDiff['added'][number]) => v(r.value)} />
      <DiffTable title="Removed" tone="bad" rows={d.removed} render={(r: CensusDiff['removed'][number]) => v(r.value)} />
    </div>
  );
}

export function CensusPanel({ nodeId, canRefresh }: { nodeId: string; canRefresh: boolean }) {
  const qc = useQueryClient();
  const census = useNodeCensus(nodeId);
  const [view, setView] = useState<'latest' | 'diff'>('latest');
  const refresh = useMutation({
    mutationFn: () => api.post<Census>(`/api/nodes/${encodeURIComponent(nodeId)}/census`),
    onSuccess: (c) => {
      qc.setQueryData(qk.nodeCensus(nodeId), c);
      void qc.invalidateQueries({ queryKey: qk.nodeCensusDiff(nodeId) });
    },
  });

  let body: ReactNode;
  if (census.isPending) body = <Loading />;
  else if (census.isError) body = <ErrorState error={census.error} onRetry={() => void census.refetch()} />;
  else if (!census.data)
    body = (
      <p className="muted" data-testid="census-none">
        No census yet. {canRefresh ? 'Take one to see what is installed and running on this host.' : ''}
      </p>
    );
  else body = view === 'latest' ? <CensusSections census={census.data} /> : <Diff nodeId={nodeId} />;

  return (
    <section className="card" aria-labelledby="census-h" data-testid="census-panel">
      <div className="card-header">
        <div>
          <h2 id="census-h" className="card-title">
            Census
          </h2>
          {census.data ? (
            <p className="muted small">
              Taken <RelativeTime value={census.data.ts} /> · OS, packages, ports, filesystems, Docker
            </p>
          ) : null}
        </div>
        <div className="row-actions">
          {census.data ? (
            <div className="segmented" role="group" aria-label="Census view">
              <button type="button" aria-pressed={view === 'latest'} onClick={() => setView('latest')} data-testid="census-view-latest">
                Latest
              </button>
              <button type="button" aria-pressed={view === 'diff'} onClick={() => setView('diff')} data-testid="census-view-diff">
                Diff with previous
              </button>
            </div>
          ) : null}
          {canRefresh ? (
            <button type="button" className="btn" onClick={() => refresh.mutate()} disabled={refresh.isPending} data-testid="census-refresh">
              <Icon name="refresh" size={16} /> {refresh.isPending ? 'Asking the worker…' : 'Take census'}
            </button>
          ) : null}
        </div>
      </div>
      <InlineError error={refresh.error} />
      {body}
    </section>
  );
}
