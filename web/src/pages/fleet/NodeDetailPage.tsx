// One node: overview, metrics (current values, a chart of the history kept in memory, disks),
// census with diff, labels and security policy.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useState, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, isApiError } from '../../api/client';
import { useNode, useNodePolicy } from '../../api/fleet';
import { qk } from '../../api/keys';
import type { FleetNode, SecurityPolicy } from '../../api/types';
import { useCan } from '../../auth/session';
import { LabelChips, Meter, StateBadge, StringListEditor } from '../../components/data';
import { ConfirmDialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { TabPanel, Tabs } from '../../components/Tabs';
import { useToast } from '../../components/Toaster';
import { EmptyState, ErrorState, InlineError, Loading, PageHeader, RelativeTime, Spinner, Switch } from '../../components/ui';
import { FUSE_TONE, labelsToRows, lastContact, NODE_STATUS_HELP, NODE_STATUS_TONE, rowsToLabels, sameLabels, type LabelRow } from '../../lib/fleet';
import { formatBytes, formatDuration } from '../../lib/format';
import { percentOf, useNodeHistory } from '../../lib/metricsHistory';
import { useTheme } from '../../lib/theme';
import { useUrlParams } from '../../lib/useUrlParams';
import { CensusPanel } from './CensusPanel';
import { LabelRowsEditor } from './LabelRowsEditor';

const NodeMetricsChart = lazy(() => import('./NodeMetricsChart'));

type Tab = 'overview' | 'metrics' | 'census' | 'settings';
const TAB_IDS: readonly Tab[] = ['overview', 'metrics', 'census', 'settings'];
const KEYS = ['tab'] as const;

function hw(n: FleetNode, k: string): string {
  const v = n.hardware[k];
  return v === undefined || v === null || v === '' ? '—' : String(v);
}

function Overview({ n }: { n: FleetNode }) {
  const mem = typeof n.hardware.memory_total_bytes === 'number' ? formatBytes(n.hardware.memory_total_bytes) : '—';
  return (
    <div className="split">
      <section className="card" aria-labelledby="hw-h">
        <h2 id="hw-h" className="card-title">
          Hardware and system
        </h2>
        <dl className="kv" data-testid="node-hardware">
          <dt>Hostname</dt>
          <dd>{n.hostname ?? '—'}</dd>
          <dt>OS</dt>
          <dd>{hw(n, 'os')}</dd>
          <dt>Kernel</dt>
          <dd>{hw(n, 'kernel')}</dd>
          <dt>Architecture</dt>
          <dd>{hw(n, 'arch')}</dd>
          <dt>CPU</dt>
          <dd>
            {hw(n, 'cpu_model')} · {hw(n, 'cpu_cores')} cores
          </dd>
          <dt>Memory</dt>
          <dd>{mem}</dd>
          <dt>Docker</dt>
          <dd>
            {hw(n, 'docker_version')} <span className="muted small">(API {hw(n, 'docker_api_version')})</span>
          </dd>
        </dl>
      </section>
      <section className="card" aria-labelledby="agent-h">
        <h2 id="agent-h" className="card-title">
          Agent
        </h2>
        <dl className="kv">
          <dt>Status</dt>
          <dd>
            <StateBadge value={n.status} tones={NODE_STATUS_TONE} /> <span className="muted small">{NODE_STATUS_HELP[n.status] ?? ''}</span>
          </dd>
          <dt>Command stream</dt>
          <dd>{n.connected ? 'open' : 'closed'}</dd>
          <dt>Agent version</dt>
          <dd>
            {n.agent_version ?? '—'} {n.proto_minor !== null ? <span className="muted small">(protocol 1.{n.proto_minor})</span> : null}
          </dd>
          <dt>Fuse</dt>
          <dd>
            <StateBadge value={n.fuse.state} tones={FUSE_TONE} />{' '}
            <Link to={`/hosts/${encodeURIComponent(n.id)}`} className="small">
              enrollment details
            </Link>
          </dd>
          <dt>Enrolled</dt>
          <dd>
            <RelativeTime value={n.enrolled_at} />
          </dd>
          <dt>Last seen</dt>
          <dd>
            <RelativeTime value={lastContact(n)} fallback="never" />
          </dd>
          <dt>Labels</dt>
          <dd>
            <LabelChips labels={n.labels} max={20} />
          </dd>
          <dt>Containers</dt>
          <dd>
            <Link to={`/containers?endpoint=${encodeURIComponent(n.id)}`} data-testid="node-containers-link">
              Containers on this node
            </Link>
          </dd>
        </dl>
      </section>
    </div>
  );
}

function Metrics({ n }: { n: FleetNode }) {
  const history = useNodeHistory(n.id);
  const [theme] = useTheme();
  const m = n.metrics;
  if (!m)
    return (
      <EmptyState icon="activity" title="No metrics yet" testId="node-metrics-empty">
        <p>The worker has not sent a sample since the master started.</p>
      </EmptyState>
    );
  const mem = percentOf(m.memory_used_bytes, m.memory_total_bytes);
  return (
    <>
      <div className="stat-grid" data-testid="node-metrics">
        <div className="stat">
          <div className="stat-label">CPU</div>
          <Meter value={m.cpu_percent} label="CPU use" />
          <div className="muted small">{m.cpu_cores} cores</div>
        </div>
        <div className="stat">
          <div className="stat-label">Memory</div>
          <Meter value={mem} label="Memory use" />
          <div className="muted small">
            {formatBytes(m.memory_used_bytes)} of {formatBytes(m.memory_total_bytes)}
            {m.memory_cgroup_limited ? ' (cgroup limit)' : ''}
          </div>
        </div>
        <div className="stat">
          <div className="stat-label">Load (1 / 5 / 15 min)</div>
          <div className="stat-value">{Array.isArray(m.load) ? m.load.map((x) => (typeof x === 'number' ? x.toFixed(2) : '—')).join(' / ') : '—'}</div>
        </div>
        <div className="stat">
          <div className="stat-label">Uptime</div>
          <div className="stat-value">{formatDuration(m.uptime_secs)}</div>
          <div className="muted small">
            sample <RelativeTime value={m.time} />
          </div>
        </div>
      </div>
      <section className="card" aria-labelledby="chart-h">
        <div className="card-header">
          <h2 id="chart-h" className="card-title">
            CPU and memory
          </h2>
          <span className="muted small">{history.length} samples since this page opened · every 10 s</span>
        </div>
        {history.length < 2 ? (
          <p className="muted small">Collecting samples… the chart appears with the second one.</p>
        ) : (
          <Suspense fallback={<Spinner label="Loading chart" />}>
            <NodeMetricsChart samples={history} theme={theme} />
          </Suspense>
        )}
      </section>
      <div className="split">
        <section className="card" aria-labelledby="disk-h">
          <h2 id="disk-h" className="card-title">
            Disks
          </h2>
          <div className="table-wrap">
            <table className="table table-dense" data-testid="node-disks">
              <thead>
                <tr>
                  <th scope="col">Mount</th>
                  <th scope="col">Device</th>
                  <th scope="col">Type</th>
                  <th scope="col">Use</th>
                  <th scope="col" className="num">
                    Used / size
                  </th>
                </tr>
              </thead>
              <tbody>
                {m.disks.map((d) => (
                  <tr key={d.mount}>
                    <td>
                      <code>{d.mount}</code>
                    </td>
                    <td>{d.device}</td>
                    <td>{d.fs_type}</td>
                    <td>
                      <Meter value={percentOf(d.used_bytes, d.total_bytes)} label={`Disk use of ${d.mount}`} />
                    </td>
                    <td className="num nowrap">
                      {formatBytes(d.used_bytes)} / {formatBytes(d.total_bytes)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
        <section className="card" aria-labelledby="net-h">
          <h2 id="net-h" className="card-title">
            Network interfaces
          </h2>
          <div className="table-wrap">
            <table className="table table-dense">
              <thead>
                <tr>
                  <th scope="col">Interface</th>
                  <th scope="col" className="num">
                    Received
                  </th>
                  <th scope="col" className="num">
                    Sent
                  </th>
                </tr>
              </thead>
              <tbody>
                {m.networks.map((x) => (
                  <tr key={x.iface}>
                    <td>{x.iface}</td>
                    <td className="num">{formatBytes(x.rx_bytes)}</td>
                    <td className="num">{formatBytes(x.tx_bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      </div>
      {m.containers.length ? (
        <section className="card" aria-labelledby="ctr-h">
          <h2 id="ctr-h" className="card-title">
            Containers by CPU
          </h2>
          <div className="table-wrap">
            <table className="table table-dense">
              <thead>
                <tr>
                  <th scope="col">Container</th>
                  <th scope="col">CPU</th>
                  <th scope="col" className="num">
                    Memory
                  </th>
                </tr>
              </thead>
              <tbody>
                {[...m.containers]
                  .sort((a, b) => b.cpu_percent - a.cpu_percent)
                  .slice(0, 20)
                  .map((c) => (
                    <tr key={c.id}>
                      <td>{c.name}</td>
                      <td>
                        <Meter value={c.cpu_percent} label={`CPU of ${c.name}`} />
                      </td>
                      <td className="num">
                        {formatBytes(c.memory_used_bytes)}
                        {c.memory_limit_bytes ? ` / ${formatBytes(c.memory_limit_bytes)}` : ''}
                      </td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </>
  );
}

function LabelsEditor({ n, canEdit }: { n: FleetNode; canEdit: boolean }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [rows, setRows] = useState<LabelRow[]>(() => labelsToRows(n.labels));
  const [base, setBase] = useState(n.labels);
  // Someone else changed the labels (live event): take theirs unless we have edits.
  useEffect(() => {
    if (sameLabels(n.labels, base)) return;
    const mine = rowsToLabels(rows);
    if (sameLabels(mine.labels, base)) setRows(labelsToRows(n.labels));
    setBase(n.labels);
  }, [n.labels, base, rows]);
  const parsed = rowsToLabels(rows);
  const dirty = !sameLabels(parsed.labels, n.labels);
  const save = useMutation({
    mutationFn: () => api.put<FleetNode>(`/api/nodes/${encodeURIComponent(n.id)}/labels`, { labels: parsed.labels }),
    onSuccess: (updated) => {
      qc.setQueryData(qk.node(n.id), updated);
      setBase(updated.labels);
      setRows(labelsToRows(updated.labels));
      void qc.invalidateQueries({ queryKey: qk.nodeLists });
      toast.success('Labels saved');
    },
  });
  return (
    <section className="card" aria-labelledby="lbl-h" data-testid="node-labels">
      <h2 id="lbl-h" className="card-title">
        Labels
      </h2>
      <p className="muted small card-intro">Used to filter the fleet and to target deployments.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (parsed.ok && dirty) save.mutate();
        }}
      >
        <LabelRowsEditor rows={rows} onChange={setRows} errors={parsed.errors} disabled={!canEdit} />
        <InlineError error={save.error} />
        {canEdit ? (
          <div className="form-actions">
            <button type="button" className="btn" disabled={!dirty || save.isPending} onClick={() => setRows(labelsToRows(n.labels))}>
              Reset
            </button>
            <button type="submit" className="btn btn-primary" disabled={!dirty || !parsed.ok || save.isPending} data-testid="labels-save">
              {save.isPending ? 'Saving…' : 'Save labels'}
            </button>
          </div>
        ) : null}
      </form>
    </section>
  );
}

function PolicyEditor({ nodeId, canEdit }: { nodeId: string; canEdit: boolean }) {
  const policy = useNodePolicy(nodeId);
  if (policy.isPending) return <Loading />;
  if (policy.isError) return <ErrorState error={policy.error} onRetry={() => void policy.refetch()} />;
  return <PolicyForm key={JSON.stringify(policy.data)} nodeId={nodeId} policy={policy.data} canEdit={canEdit} />;
}

function PolicyForm({ nodeId, policy, canEdit }: { nodeId: string; policy: SecurityPolicy; canEdit: boolean }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [draft, setDraft] = useState<SecurityPolicy>(policy);
  const clean = (p: SecurityPolicy): SecurityPolicy => ({
    ...p,
    allowed_bind_prefixes: p.allowed_bind_prefixes.map((x) => x.trim()).filter(Boolean),
    allowed_images: p.allowed_images.map((x) => x.trim()).filter(Boolean),
  });
  const bindErrors = draft.allowed_bind_prefixes.map((p) => (p.trim() && (!p.trim().startsWith('/') || p.includes('..')) ? 'An absolute path without “..”.' : null));
  const imageErrors = draft.allowed_images.map((p) => (/\s/.test(p.trim()) ? 'No spaces.' : null));
  const valid = bindErrors.every((e) => !e) && imageErrors.every((e) => !e);
  const dirty = JSON.stringify(clean(draft)) !== JSON.stringify(policy);
  const save = useMutation({
    mutationFn: () => api.put<SecurityPolicy>(`/api/nodes/${encodeURIComponent(nodeId)}/security-policy`, clean(draft)),
    onSuccess: (p) => {
      qc.setQueryData(qk.nodePolicy(nodeId), p);
      toast.success('Security policy saved');
    },
  });
  return (
    <section className="card" aria-labelledby="pol-h" data-testid="node-policy">
      <h2 id="pol-h" className="card-title">
        Security policy
      </h2>
      <p className="muted small card-intro">Enforced by the master and the worker on every container operation on this node.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (valid && dirty) save.mutate();
        }}
      >
        <div className="setting-row">
          <div className="setting-label">
            <label>Shell exec into containers</label>
            <p className="muted small">Terminals and exec sessions.</p>
          </div>
          <Switch checked={draft.allow_exec} onChange={(v) => setDraft({ ...draft, allow_exec: v })} label="Allow exec" disabled={!canEdit} testId="policy-exec" />
        </div>
        <div className="setting-row">
          <div className="setting-label">
            <label>Privileged containers</label>
            <p className="muted small">Full access to the host’s devices and kernel.</p>
          </div>
          <Switch
            checked={draft.allow_privileged}
            onChange={(v) => setDraft({ ...draft, allow_privileged: v })}
            label="Allow privileged containers"
            disabled={!canEdit}
            testId="policy-privileged"
          />
        </div>
        <StringListEditor
          label="Allowed bind-mount prefixes"
          values={draft.allowed_bind_prefixes}
          onChange={(v) => setDraft({ ...draft, allowed_bind_prefixes: v })}
          placeholder="/srv/data"
          disabled={!canEdit}
          errors={bindErrors}
          testId="policy-binds"
        />
        <p className="muted small">Empty: no bind mounts at all.</p>
        <StringListEditor
          label="Allowed images"
          values={draft.allowed_images}
          onChange={(v) => setDraft({ ...draft, allowed_images: v })}
          placeholder="registry.lan/*"
          disabled={!canEdit}
          errors={imageErrors}
          testId="policy-images"
        />
        <p className="muted small">
          Patterns; <code>*</code> matches any run of characters. <code>*</code> alone allows every image.
        </p>
        <InlineError error={save.error} />
        {canEdit ? (
          <div className="form-actions">
            <button type="button" className="btn" disabled={!dirty || save.isPending} onClick={() => setDraft(policy)}>
              Reset
            </button>
            <button type="submit" className="btn btn-primary" disabled={!dirty || !valid || save.isPending} data-testid="policy-save">
              {save.isPending ? 'Saving…' : 'Save policy'}
            </button>
          </div>
        ) : null}
      </form>
    </section>
  );
}

export default function NodeDetailPage() {
  const { id = '' } = useParams();
  const node = useNode(id);
  const canOperate = useCan('operator');
  const isAdmin = useCan('admin');
  const qc = useQueryClient();
  const toast = useToast();
  const navigate = useNavigate();
  const [p, update] = useUrlParams(KEYS);
  const tab: Tab = (TAB_IDS as readonly string[]).includes(p.tab) ? (p.tab as Tab) : 'overview';
  const [removing, setRemoving] = useState(false);
  const idBase = 'node';

  const back = (
    <Link to="/fleet" className="back-link">
      <Icon name="arrowLeft" size={16} /> Fleet
    </Link>
  );

  if (node.isPending) return <Loading />;
  if (node.isError)
    return (
      <div className="page" data-testid="page-node">
        {back}
        {isApiError(node.error) && node.error.status === 404 ? (
          <EmptyState icon="server" title="Node not found" testId="node-not-found">
            <p>{node.error.message}</p>
          </EmptyState>
        ) : (
          <ErrorState error={node.error} onRetry={() => void node.refetch()} />
        )}
      </div>
    );

  const n = node.data;
  let panel: ReactNode;
  if (tab === 'overview') panel = <Overview n={n} />;
  else if (tab === 'metrics') panel = <Metrics n={n} />;
  else if (tab === 'census') panel = <CensusPanel nodeId={n.id} canRefresh={canOperate} />;
  else
    panel = (
      <div className="split split-even">
        <LabelsEditor n={n} canEdit={canOperate} />
        <PolicyEditor nodeId={n.id} canEdit={canOperate} />
      </div>
    );

  return (
    <div className="page" data-testid="page-node">
      {back}
      <PageHeader
        title={n.name}
        description={
          <span className="header-meta">
            <span data-testid="node-status" data-status={n.status}>
              <StateBadge value={n.status} tones={NODE_STATUS_TONE} />
            </span>
            {n.hostname ? <span>{n.hostname}</span> : null}
            {n.agent_version ? <span className="muted">agent {n.agent_version}</span> : null}
          </span>
        }
        actions={
          isAdmin ? (
            <button type="button" className="btn btn-danger-ghost" onClick={() => setRemoving(true)} data-testid="node-remove">
              <Icon name="trash" size={16} /> Remove node
            </button>
          ) : null
        }
      />
      <Tabs
        label="Node sections"
        idBase={idBase}
        value={tab}
        onChange={(t) => update({ tab: t === 'overview' ? '' : t })}
        tabs={[
          { id: 'overview', label: 'Overview', testId: 'node-tab-overview' },
          { id: 'metrics', label: 'Metrics', testId: 'node-tab-metrics' },
          { id: 'census', label: 'Census', testId: 'node-tab-census' },
          { id: 'settings', label: 'Labels & policy', testId: 'node-tab-settings' },
        ]}
      />
      <TabPanel idBase={idBase} id={tab}>
        {panel}
      </TabPanel>
      {removing ? (
        <ConfirmDialog
          title="Remove node"
          danger
          confirmLabel="Remove node"
          testId="remove-node-dialog"
          message={
            <p>
              Remove <strong>{n.name}</strong>? Its credential is revoked and the worker is cut off; the host waits for a new token. Nothing on the host is
              stopped.
            </p>
          }
          onClose={() => setRemoving(false)}
          onConfirm={async () => {
            await api.del(`/api/nodes/${encodeURIComponent(n.id)}`);
            qc.removeQueries({ queryKey: qk.node(n.id) });
            void qc.invalidateQueries({ queryKey: qk.nodeLists });
            toast.success(`Node ${n.name} removed`);
            navigate('/fleet', { replace: true });
          }}
        />
      ) : null}
    </div>
  );
}
