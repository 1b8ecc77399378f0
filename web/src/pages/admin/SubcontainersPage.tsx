// Sub-containers (admin): the built-in catalogue of cb-* services with, per service, desired
// against observed state (drift, health, restarts, flapping), a health probe, recent logs, and
// the actions deploy (with its configuration form), configuration update, restart and remove
// (optionally with its data volume). Every action is an operation; the list follows the actors'
// `subcontainer.*` events live.

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, errorMessage, isApiError } from '../../api/client';
import { useEndpointOptions } from '../../api/docker';
import { waitForOperation } from '../../api/stacks';
import { typed } from '../../api/typed';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { FormError, FormField, useForm } from '../../components/Form';
import { Icon } from '../../components/Icon';
import { pageQuery, ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Badge, ErrorState, InlineError, Loading, PageHeader, RelativeTime } from '../../components/ui';
import { useLiveEvents } from '../../live/LiveProvider';
import { formField, serviceForm, serviceOverrides, serviceState, type ServiceForm, type SubcontainerStatus, type SubcontainerSummary } from './SubcontainersForm';
import '../docker/logs.css';
import './Subcontainers.css';

const KEY = ['subcontainers'] as const;

function useSummaries(p: { limit: number; offset: number }) {
  return useQuery({ queryKey: [...KEY, 'list', p], queryFn: ({ signal }) => typed.get('/api/admin/subcontainers', { query: p, signal }) });
}

function useStatus(name: string) {
  return useQuery({ queryKey: [...KEY, 'status', name], queryFn: ({ signal }) => typed.get('/api/admin/subcontainers/{name}', { path: { name }, signal }) });
}

/** Follows an accepted operation and says how it ended. */
function useFollow() {
  const toast = useToast();
  const qc = useQueryClient();
  return async (what: string, start: () => Promise<{ operation: { id: string } }>) => {
    try {
      const accepted = await start();
      toast.info(`${what} started`);
      const op = await waitForOperation(accepted.operation.id);
      if (op.state === 'succeeded') toast.success(`${what}: done`);
      else toast.error(`${what}: ${op.state}`, op.error ?? undefined);
    } catch (e) {
      toast.error(`${what} refused`, errorMessage(e));
    } finally {
      void qc.invalidateQueries({ queryKey: KEY });
    }
  };
}

function ConfigDialog({ summary, status, onClose }: { summary: SubcontainerSummary; status: SubcontainerStatus; onClose: () => void }) {
  const follow = useFollow();
  const endpoints = useEndpointOptions();
  const deploying = !summary.deployed;
  const form = useForm<ServiceForm>({
    initial: serviceForm(status.desired, status.endpoint),
    validate: (v) => serviceOverrides(v).errors,
    onSubmit: async (v) => {
      const { config } = serviceOverrides(v);
      if (!config) throw new Error('the form has errors');
      const name = summary.name;
      const start = deploying
        ? () => typed.post('/api/admin/subcontainers/{name}/deploy', { path: { name }, body: { endpoint: v.endpoint, config } })
        : () => typed.put('/api/admin/subcontainers/{name}/config', { path: { name }, body: config });
      // The request's own refusal (400/409) stays in the form; the operation is followed after.
      let accepted;
      try {
        accepted = await start();
      } catch (e) {
        const field = isApiError(e) ? formField(e.field) : null;
        throw isApiError(e) && field ? new ApiError(e.status, e.message, e.code, e.requestId, e.retryAfter, field) : e;
      }
      onClose();
      void follow(deploying ? `Deploy of cb-${name}` : `Reconfiguration of cb-${name}`, () => Promise.resolve(accepted));
      return accepted;
    },
  });
  return (
    <Dialog
      title={deploying ? `Deploy cb-${summary.name}` : `Configure cb-${summary.name}`}
      onClose={onClose}
      onSubmit={(e) => void form.handleSubmit(e)}
      busy={form.submitting}
      size="lg"
      testId="subcontainer-config-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="subcontainer-config-submit">
            {deploying ? 'Deploy' : 'Save and redeploy'}
          </button>
        </>
      }
    >
      <FormError form={form} />
      {deploying ? (
        <FormField form={form} name="endpoint" label="Endpoint">
          {(p) => (
            <select {...p} data-testid="subcontainer-endpoint">
              {endpoints.options.some((o) => o.id === form.values.endpoint) ? null : <option value={form.values.endpoint}>{form.values.endpoint}</option>}
              {endpoints.options.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.label}
                </option>
              ))}
            </select>
          )}
        </FormField>
      ) : null}
      <FormField form={form} name="image" label="Image">
        {(p) => <input {...p} className="mono" spellCheck={false} data-testid="subcontainer-image" data-autofocus />}
      </FormField>
      <div className="form-row">
        <FormField form={form} name="port" label="Host port">
          {(p) => <input {...p} inputMode="numeric" data-testid="subcontainer-port" />}
        </FormField>
        <FormField form={form} name="bind" label="Bind address" hint="127.0.0.1 keeps it on this host.">
          {(p) => <input {...p} data-testid="subcontainer-bind" />}
        </FormField>
      </div>
      <FormField form={form} name="env" label="Environment" hint="One KEY=value per line (replaces the stored environment).">
        {(p) => <textarea {...p} className="mono" rows={3} data-testid="subcontainer-env" />}
      </FormField>
      <FormField form={form} name="labels" label="Labels" hint="One key=value per line.">
        {(p) => <textarea {...p} className="mono" rows={2} data-testid="subcontainer-labels" />}
      </FormField>
    </Dialog>
  );
}

function Logs({ name }: { name: string }) {
  const logs = useQuery({ queryKey: [...KEY, 'logs', name], queryFn: ({ signal }) => typed.get('/api/admin/subcontainers/{name}/logs', { path: { name }, query: { tail: 200 }, signal }) });
  return (
    <section className="card">
      <div className="card-header">
        <h3 className="card-title">Recent logs</h3>
        <button type="button" className="btn btn-sm" onClick={() => void logs.refetch()} data-testid="subcontainer-logs-refresh">
          <Icon name="refresh" size={14} /> Refresh
        </button>
      </div>
      {logs.isPending ? (
        <Loading />
      ) : logs.isError ? (
        <InlineError error={logs.error} />
      ) : (
        <div className="log-view" data-testid="subcontainer-logs">
          {logs.data.lines.length === 0 ? <p className="log-empty muted">No log lines.</p> : null}
          {logs.data.lines.map((l, i) => (
            <div key={i} className={`log-line${l.stream === 'stderr' ? ' log-stderr' : ''}`}>
              {l.ts ? <span className="log-ts">{l.ts}</span> : null}
              <span className="log-text">{l.line}</span>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}

function Detail({ summary }: { summary: SubcontainerSummary }) {
  const status = useStatus(summary.name);
  const follow = useFollow();
  const [configuring, setConfiguring] = useState(false);
  const [removing, setRemoving] = useState(false);
  const [alsoVolumes, setAlsoVolumes] = useState(false);
  const probe = useQuery({
    queryKey: [...KEY, 'health', summary.name],
    enabled: false,
    retry: false,
    queryFn: ({ signal }) => typed.get('/api/admin/subcontainers/{name}/health', { path: { name: summary.name }, signal }),
  });
  if (status.isPending) return <Loading />;
  if (status.isError) return <ErrorState error={status.error} onRetry={() => void status.refetch()} />;
  const s = status.data;
  const o = s.observed;
  const name = summary.name;
  const st = serviceState(summary);
  return (
    <div data-testid="subcontainer-detail" data-name={name}>
      <section className="card">
        <div className="card-header">
          <h3 className="card-title">
            {s.title} <code>cb-{name}</code> <Badge tone={st.tone} dot>{st.text}</Badge>
          </h3>
          <div className="sub-actions">
            {s.deployed ? (
              <>
                <button type="button" className="btn btn-sm" onClick={() => void probe.refetch()} data-testid="subcontainer-probe">
                  <Icon name="activity" size={14} /> Probe health
                </button>
                <button type="button" className="btn btn-sm" onClick={() => setConfiguring(true)} data-testid="subcontainer-configure">
                  <Icon name="settings" size={14} /> Configure
                </button>
                <button type="button" className="btn btn-sm" onClick={() => void follow(`Restart of cb-${name}`, () => typed.post('/api/admin/subcontainers/{name}/restart', { path: { name } }))} data-testid="subcontainer-restart">
                  <Icon name="refresh" size={14} /> Restart
                </button>
                <button type="button" className="btn btn-sm btn-danger" onClick={() => setRemoving(true)} data-testid="subcontainer-remove">
                  <Icon name="trash" size={14} /> Remove
                </button>
              </>
            ) : (
              <button type="button" className="btn btn-sm btn-primary" onClick={() => setConfiguring(true)} data-testid="subcontainer-deploy">
                <Icon name="upload" size={14} /> Deploy
              </button>
            )}
          </div>
        </div>
        <dl className="kv">
          <dt>Reached at</dt>
          <dd>
            <code>{s.url}</code>
          </dd>
          <dt>Serves</dt>
          <dd>{s.module ? `${s.module} (${s.setting})` : '—'}</dd>
          <dt>Desired image</dt>
          <dd>
            <code>{s.desired.image}</code> on {s.desired.bind}:{s.desired.port}
          </dd>
          {s.deployed ? (
            <>
              <dt>Endpoint</dt>
              <dd>{s.endpoint}</dd>
              <dt>Observed</dt>
              <dd data-testid="subcontainer-observed">
                {o ? `${o.state}${o.status ? ` (${o.status})` : ''}${o.image ? ` · ${o.image}` : ''}` : '—'}
              </dd>
              <dt>Health</dt>
              <dd>
                {o?.health ?? '—'}
                {o?.health_detail ? <span className="muted small"> {o.health_detail}</span> : null}
                {o?.health_at ? (
                  <span className="muted small">
                    {' '}
                    · <RelativeTime value={new Date(o.health_at).toISOString()} />
                  </span>
                ) : null}
              </dd>
              <dt>Restarts by its actor</dt>
              <dd>
                {o?.restarts ?? 0}
                {o?.flapping ? <Badge tone="bad">flapping</Badge> : null}
              </dd>
              <dt>Drift</dt>
              <dd data-testid="subcontainer-drift">
                {s.drift.length === 0 ? (
                  <Badge tone="ok">none</Badge>
                ) : (
                  <ul className="sub-drift">
                    {s.drift.map((d) => (
                      <li key={d}>{d}</li>
                    ))}
                  </ul>
                )}
              </dd>
            </>
          ) : null}
        </dl>
        {probe.fetchStatus === 'fetching' ? <Loading label="Probing…" /> : null}
        {probe.isError ? <InlineError error={probe.error} /> : null}
        {probe.data ? (
          <p data-testid="subcontainer-probe-result">
            <Badge tone={probe.data.healthy ? 'ok' : 'bad'}>{probe.data.healthy ? 'healthy' : 'unhealthy'}</Badge> <code>{probe.data.probe}</code>
            <span className="muted small"> — {probe.data.detail}</span>
          </p>
        ) : null}
      </section>
      {s.deployed ? <Logs name={name} /> : null}
      {configuring ? <ConfigDialog summary={summary} status={s} onClose={() => setConfiguring(false)} /> : null}
      {removing ? (
        <ConfirmDialog
          title={`Remove cb-${name}`}
          danger
          confirmLabel="Remove"
          testId="subcontainer-remove-dialog"
          message={
            <>
              <p>
                Take down the stack <code>cb-{name}</code>
                {s.module ? ` and unset ${s.module}'s ${s.setting}` : ''}?
              </p>
              <label className="sub-checkbox">
                <input type="checkbox" checked={alsoVolumes} onChange={(e) => setAlsoVolumes(e.target.checked)} data-testid="subcontainer-remove-volumes" /> Also remove its data volume
                (otherwise kept for a later deploy)
              </label>
            </>
          }
          onClose={() => setRemoving(false)}
          onConfirm={async () => {
            void follow(`Removal of cb-${name}`, () => typed.del('/api/admin/subcontainers/{name}', { path: { name }, query: { volumes: alsoVolumes } }));
          }}
        />
      ) : null}
    </div>
  );
}

const COLUMNS: Column<SubcontainerSummary>[] = [
  {
    key: 'name',
    header: 'Service',
    sortValue: (s) => s.name,
    cell: (s) => (
      <>
        <strong>{s.title}</strong> <code className="muted small">cb-{s.name}</code>
      </>
    ),
  },
  {
    key: 'state',
    header: 'State',
    cell: (s) => {
      const st = serviceState(s);
      return (
        <Badge tone={st.tone} dot>
          {st.text}
        </Badge>
      );
    },
  },
  { key: 'image', header: 'Image', cell: (s) => <code className="mono-cell">{s.image}</code> },
  { key: 'endpoint', header: 'Endpoint', cell: (s) => s.endpoint ?? '—' },
  { key: 'module', header: 'Serves', cell: (s) => (s.module ? `${s.module}` : '—') },
];

export default function SubcontainersPage() {
  const qc = useQueryClient();
  const state = useTableParams(['service']);
  const list = useSummaries(pageQuery(state.params));
  const selectedName = state.params.extra.service ?? '';
  const selected = list.data?.items.find((s) => s.name === selectedName) ?? null;

  useLiveEvents((ev) => {
    if (ev.type.startsWith('subcontainer.')) void qc.invalidateQueries({ queryKey: KEY });
  });

  return (
    <div className="page" data-testid="page-subcontainers">
      <PageHeader title="Sub-containers" description="The cb-* services ContextBay can run for its modules, each reconciled by its own actor to the configuration you set." />
      <div className="split">
        <ResourceTable
          query={list}
          state={state}
          columns={COLUMNS}
          rowKey={(s) => s.name}
          rowProps={(s) => ({ 'data-testid': 'subcontainer-row', 'data-name': s.name, 'data-deployed': String(s.deployed) })}
          selected={(s) => s.name === selectedName}
          onRowClick={(s) => state.update({ service: s.name, offset: state.params.offset })}
          empty={{ icon: 'box', title: 'The catalogue is empty' }}
          noun="services"
          testId="subcontainers-table"
        />
        <div>{selected ? <Detail key={selected.name} summary={selected} /> : <p className="muted">Choose a service to see its state, logs and actions.</p>}</div>
      </div>
    </div>
  );
}
