// One stack: status and services, deploy / stop / remove with the compose CLI's output streamed
// from `stack.progress` events, the compose file and env editor, delete. `/stacks/new` is the
// same editor for a new stack. A discovered project is read-only until adopted.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { errorMessage, isApiError } from '../../api/client';
import { qk } from '../../api/keys';
import { stackRequests, useStack, waitForOperation } from '../../api/stacks';
import type { StackAction, StackDetail } from '../../api/types';
import { useCan } from '../../auth/session';
import { ConfirmDialog } from '../../components/Dialog';
import { StateBadge } from '../../components/data';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Field, InlineError, Loading, PageHeader, RelativeTime } from '../../components/ui';
import { useLiveEvents } from '../../live/LiveProvider';
import {
  applyStackProgress,
  composeError,
  deployLabel,
  failRun,
  finishOperation,
  formatEnv,
  parseEnv,
  projectNameError,
  STACK_ACTION_LABEL,
  STACK_STATUS_HINT,
  STACK_STATUS_TONE,
  stackActions,
  startRun,
  type StackRun,
} from '../../lib/stacks';
import { EndpointSelect } from '../docker/ContainersPage';
import { CodeEditor } from './CodeEditor';
import { AdoptButton, StackSource, stackPath } from './StacksPage';

const TEMPLATE = `services:
  web:
    image: nginx:alpine
    restart: unless-stopped
    ports:
      - "8080:80"
`;

const back = (
  <Link to="/stacks" className="back-link">
    <Icon name="arrowLeft" size={16} /> Stacks
  </Link>
);

// -- run panel ------------------------------------------------------------------------------

function RunPanel({ run, onClose }: { run: StackRun; onClose: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [run.lines]);
  const state = !run.done ? 'running' : run.ok ? 'ok' : 'failed';
  return (
    <section className="card run-card" aria-labelledby="run-h" data-testid="stack-run" data-state={state} data-action={run.action}>
      <div className="card-header">
        <h2 id="run-h" className="card-title logs-title">
          {STACK_ACTION_LABEL[run.action as StackAction] ?? run.action}
          {state === 'running' ? (
            <Badge tone="info">
              <span className="spinner spinner-sm" aria-hidden="true" /> Running
            </Badge>
          ) : state === 'ok' ? (
            <Badge tone="ok">Done</Badge>
          ) : (
            <Badge tone="bad">Failed{run.exitCode !== null ? ` · exit code ${run.exitCode}` : ''}</Badge>
          )}
        </h2>
        {run.done ? (
          <button type="button" className="icon-btn" aria-label="Close the output" onClick={onClose}>
            <Icon name="x" size={16} />
          </button>
        ) : null}
      </div>
      {run.command ? (
        <p className="muted small">
          <code>{run.command}</code>
        </p>
      ) : null}
      {run.error ? (
        <p className="form-error" role="alert" data-testid="stack-run-error">
          {run.error}
        </p>
      ) : null}
      <div className="log-view run-output" ref={ref} role="log" aria-label="Compose output" tabIndex={0} data-testid="stack-run-output">
        {run.lines.length === 0 ? (
          <p className="muted log-empty">{run.done ? 'No output.' : 'Waiting for output…'}</p>
        ) : (
          run.lines.map((l, i) => (
            <div key={i} className={`log-line${l.stream === 'stderr' ? ' log-stderr-soft' : ''}`}>
              <span className="log-text">{l.line}</span>
            </div>
          ))
        )}
      </div>
      {run.dropped > 0 ? <p className="muted small">{run.dropped.toLocaleString()} earlier lines not shown</p> : null}
    </section>
  );
}

// -- editor ---------------------------------------------------------------------------------

interface Draft {
  name: string;
  endpoint: string;
  compose: string;
  envText: string;
}

function StackEditor({
  initial,
  isNew,
  readOnly,
  busy,
  onSubmit,
  onCancel,
  submitLabel,
  error,
}: {
  initial: Draft;
  isNew: boolean;
  readOnly: boolean;
  busy: boolean;
  onSubmit: (d: Draft, env: Record<string, string>) => void;
  onCancel?: () => void;
  submitLabel: string;
  error: unknown;
}) {
  const [d, setD] = useState(initial);
  const [touched, setTouched] = useState(false);
  // A refetch (someone else saved) resets a form that has no local edits.
  const dirty = d.compose !== initial.compose || d.envText !== initial.envText || d.name !== initial.name || d.endpoint !== initial.endpoint;
  const lastInitial = useRef(initial);
  useEffect(() => {
    if (lastInitial.current !== initial && !dirty) setD(initial);
    lastInitial.current = initial;
  }, [initial, dirty]);

  const env = useMemo(() => parseEnv(d.envText), [d.envText]);
  const nameErr = isNew ? projectNameError(d.name) : null;
  const composeErr = composeError(d.compose);
  const envErr = env.errors.length ? env.errors.join('; ') : null;
  const valid = !nameErr && !composeErr && !envErr;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (valid && !readOnly) onSubmit(d, env.env);
  };

  return (
    <form className="card stack-editor" onSubmit={submit} noValidate aria-label="Stack definition" data-testid="stack-editor">
      {isNew ? (
        <div className="form-grid">
          <Field label="Name" htmlFor="stack-name" error={touched || d.name ? nameErr : null} hint="The compose project name: lowercase letters, digits, “_” and “-”.">
            <input
              id="stack-name"
              value={d.name}
              onChange={(e) => setD({ ...d, name: e.target.value.trim() })}
              autoComplete="off"
              spellCheck={false}
              aria-invalid={(touched || !!d.name) && !!nameErr}
              data-testid="stack-name"
            />
          </Field>
          <Field label="Endpoint" htmlFor="stack-endpoint" hint="Where the compose CLI runs it.">
            <EndpointSelect id="stack-endpoint" value={d.endpoint} onChange={(v) => setD({ ...d, endpoint: v })} emptyLabel="The master’s engine (local)" testId="stack-endpoint" />
          </Field>
        </div>
      ) : null}
      <div className="field">
        <label htmlFor="stack-compose">Compose file</label>
        <CodeEditor
          id="stack-compose"
          value={d.compose}
          onChange={readOnly ? undefined : (v) => setD({ ...d, compose: v })}
          label="Compose file"
          readOnly={readOnly}
          invalid={touched && !!composeErr}
          describedBy="compose-hint"
          testId="stack-compose"
        />
        <p className={touched && composeErr ? 'field-error' : 'field-hint'} id="compose-hint">
          {touched && composeErr ? composeErr : readOnly ? 'Read-only.' : 'YAML. Tab indents; press Esc, then Tab, to leave the editor.'}
        </p>
      </div>
      <div className="field">
        <label htmlFor="stack-env">Environment (.env)</label>
        <CodeEditor
          id="stack-env"
          value={d.envText}
          onChange={readOnly ? undefined : (v) => setD({ ...d, envText: v })}
          label="Environment variables, one KEY=VALUE per line"
          readOnly={readOnly}
          rows={5}
          invalid={!!envErr}
          describedBy="env-hint"
          testId="stack-env"
          placeholder={readOnly ? '' : 'KEY=value'}
        />
        <p className={envErr ? 'field-error' : 'field-hint'} id="env-hint">
          {envErr ?? 'One KEY=VALUE per line, written next to the compose file as .env. # starts a comment.'}
        </p>
      </div>
      <InlineError error={error} />
      {!readOnly ? (
        <div className="form-actions">
          {!isNew && dirty ? <span className="muted small form-note">Unsaved changes. Saved changes apply on the next deploy.</span> : null}
          {onCancel ? (
            <button type="button" className="btn" onClick={() => (isNew ? onCancel() : setD(initial))} disabled={busy || (!isNew && !dirty)} data-testid="stack-discard">
              {isNew ? 'Cancel' : 'Discard'}
            </button>
          ) : null}
          <button type="submit" className="btn btn-primary" disabled={busy || (!isNew && !dirty)} data-testid="stack-save">
            {busy ? 'Saving…' : submitLabel}
          </button>
        </div>
      ) : null}
    </form>
  );
}

// -- new stack ------------------------------------------------------------------------------

/** `/stacks/new` (operators; the route checks the role). */
export function NewStackPage() {
  const navigate = useNavigate();
  const toast = useToast();
  const qc = useQueryClient();
  const initial = useMemo<Draft>(() => ({ name: '', endpoint: '', compose: TEMPLATE, envText: '' }), []);
  const create = useMutation({
    mutationFn: ({ d, env }: { d: Draft; env: Record<string, string> }) => stackRequests.create({ name: d.name, endpoint: d.endpoint, compose: d.compose, env }),
    onSuccess: (s) => {
      qc.setQueryData(qk.stack(s.id), s);
      void qc.invalidateQueries({ queryKey: qk.stacks });
      toast.success(`Created ${s.name}`, 'Deploy it when ready.');
      navigate(stackPath(s.id), { replace: true });
    },
  });
  return (
    <div className="page" data-testid="page-stack-new">
      {back}
      <PageHeader title="New stack" description="A compose file (and optional .env) stored by ContextBay and deployed to an endpoint with the compose CLI." />
      <StackEditor
        initial={initial}
        isNew
        readOnly={false}
        busy={create.isPending}
        onSubmit={(d, env) => create.mutate({ d, env })}
        onCancel={() => navigate('/stacks')}
        submitLabel="Create stack"
        error={create.error}
      />
    </div>
  );
}

// -- existing stack -------------------------------------------------------------------------

function ActionButtons({ s, running, onRun }: { s: StackDetail; running: boolean; onRun: (a: StackAction, volumes?: boolean) => void }) {
  const [confirm, setConfirm] = useState<'stop' | 'remove' | 'delete' | null>(null);
  const [volumes, setVolumes] = useState(false);
  const [force, setForce] = useState(s.containers > 0);
  const toast = useToast();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const actions = stackActions(s);
  return (
    <div className="row-actions" data-testid="stack-actions">
      {actions.includes('deploy') ? (
        <button type="button" className="btn btn-primary btn-sm" onClick={() => onRun('deploy')} disabled={running} data-testid="stack-deploy">
          <Icon name="upload" size={14} /> {deployLabel(s)}
        </button>
      ) : null}
      {actions.includes('stop') ? (
        <button type="button" className="btn btn-sm" onClick={() => setConfirm('stop')} disabled={running} data-testid="stack-stop">
          <Icon name="stop" size={14} /> Stop
        </button>
      ) : null}
      {actions.includes('remove') ? (
        <button type="button" className="btn btn-sm" onClick={() => setConfirm('remove')} disabled={running} data-testid="stack-remove">
          <Icon name="x" size={14} /> Remove containers
        </button>
      ) : null}
      <button type="button" className="btn btn-sm btn-danger-ghost" onClick={() => setConfirm('delete')} disabled={running} data-testid="stack-delete">
        <Icon name="trash" size={14} /> Delete
      </button>
      {confirm === 'stop' ? (
        <ConfirmDialog
          title="Stop stack"
          confirmLabel="Stop"
          testId="stack-confirm"
          message={
            <p>
              Stop every container of <strong>{s.name}</strong> on <strong>{s.endpoint.name}</strong>? They are kept and start again with the
              next deploy.
            </p>
          }
          onClose={() => setConfirm(null)}
          onConfirm={async () => onRun('stop')}
        />
      ) : null}
      {confirm === 'remove' ? (
        <ConfirmDialog
          title="Remove the stack’s containers"
          danger
          confirmLabel="Remove"
          testId="stack-confirm"
          message={
            <>
              <p>
                Run <code>down</code> for <strong>{s.name}</strong> on <strong>{s.endpoint.name}</strong>: its containers and networks are
                removed. The stack stays stored and can be deployed again.
              </p>
              <label className="checkbox">
                <input type="checkbox" checked={volumes} onChange={(e) => setVolumes(e.target.checked)} data-testid="stack-remove-volumes" />
                <span>
                  Remove its volumes too <span className="muted">— their data is lost</span>
                </span>
              </label>
            </>
          }
          onClose={() => setConfirm(null)}
          onConfirm={async () => onRun('remove', volumes)}
        />
      ) : null}
      {confirm === 'delete' ? (
        <ConfirmDialog
          title="Delete stack"
          danger
          confirmLabel="Delete"
          testId="stack-delete-dialog"
          message={
            <>
              <p>
                Delete <strong>{s.name}</strong> from ContextBay? Its stored compose file and .env are gone afterwards.
              </p>
              {s.containers > 0 ? (
                <>
                  <label className="checkbox">
                    <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} data-testid="stack-delete-force" />
                    <span>
                      Remove its {s.containers} container{s.containers === 1 ? '' : 's'} first (<code>down</code>) — without this the master refuses
                    </span>
                  </label>
                  <label className="checkbox">
                    <input type="checkbox" checked={volumes} disabled={!force} onChange={(e) => setVolumes(e.target.checked)} />
                    <span>…and its volumes</span>
                  </label>
                </>
              ) : null}
            </>
          }
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            await stackRequests.remove(s.id, force, force && volumes);
            qc.removeQueries({ queryKey: qk.stack(s.id) });
            void qc.invalidateQueries({ queryKey: qk.stacks });
            toast.success(`Deleted ${s.name}`);
            navigate('/stacks', { replace: true });
          }}
        />
      ) : null}
    </div>
  );
}

/** Where an adopted stack's file came from, from the adoption's answer (passed by AdoptButton). */
function AdoptionNote() {
  const location = useLocation();
  const navigate = useNavigate();
  const adoption = (location.state as { adoption?: StackDetail['adoption'] } | null)?.adoption;
  if (!adoption) return null;
  const dismiss = () => navigate(location.pathname + location.search, { replace: true, state: null });
  return (
    <div className={`callout ${adoption.reconstructed ? 'callout-warn' : 'callout-info'}`} role="status" data-testid="stack-adoption-note">
      <Icon name={adoption.reconstructed ? 'alert' : 'info'} size={18} />
      <div>
        <strong>
          {adoption.reconstructed
            ? 'The compose file was reconstructed from the running containers.'
            : `The compose file was read from ${adoption.working_dir ?? 'the project’s directory'}.`}
        </strong>
        {adoption.note ? (
          <p>{adoption.note}</p>
        ) : adoption.reconstructed ? (
          <p>Review it before the next deploy: settings the containers do not show may be missing.</p>
        ) : null}
      </div>
      <button type="button" className="icon-btn icon-btn-sm callout-close" aria-label="Dismiss" onClick={dismiss}>
        <Icon name="x" size={15} />
      </button>
    </div>
  );
}

function ExistingStackPage({ id }: { id: string }) {
  const canOperate = useCan('operator');
  const stack = useStack(id);
  const qc = useQueryClient();
  const toast = useToast();
  const [run, setRun] = useState<StackRun | null>(null);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const stackId = stack.data?.id ?? id;

  useLiveEvents((ev) => {
    if (ev.type !== 'stack.progress') return;
    setRun((r) => applyStackProgress(r, stackId, ev.payload));
  });

  const act = useMutation({
    // The master answers 202 with the operation at once; it runs on whether or not this page
    // stays open, and is followed here until it ends.
    mutationFn: async ({ action, volumes }: { action: StackAction; volumes?: boolean }) => {
      const { operation } = await stackRequests.action(stackId, action, volumes);
      return waitForOperation(operation.id);
    },
    onMutate: ({ action }) => setRun(startRun(action)),
    onSuccess: (op, { action }) => {
      setRun((cur) => finishOperation(cur, action, op));
      void qc.invalidateQueries({ queryKey: qk.stacks });
      if (op.state === 'succeeded') {
        toast.success(`${STACK_ACTION_LABEL[action]}: ${stack.data?.name ?? ''}`, `Status: ${op.result?.status ?? 'unknown'}`);
      }
    },
    onError: (e, { action }) => {
      setRun((cur) => failRun(cur, action, errorMessage(e)));
      void qc.invalidateQueries({ queryKey: qk.stacks });
    },
  });

  const initial = useMemo<Draft | null>(
    () => (stack.data ? { name: stack.data.name, endpoint: stack.data.endpoint.id, compose: stack.data.compose ?? '', envText: formatEnv(stack.data.env) } : null),
    [stack.data],
  );

  if (stack.isPending) return <Loading />;
  if (stack.isError)
    return (
      <div className="page" data-testid="page-stack">
        {back}
        {isApiError(stack.error) && stack.error.status === 404 ? (
          <EmptyState icon="layers" title="Stack not found" testId="stack-not-found">
            <p>{stack.error.message}</p>
          </EmptyState>
        ) : (
          <ErrorState error={stack.error} onRetry={() => void stack.refetch()} />
        )}
      </div>
    );

  const s = stack.data;
  const running = act.isPending || (run !== null && !run.done);
  const save = async (d: Draft, env: Record<string, string>) => {
    setSaving(true);
    setSaveError(null);
    try {
      const updated = await stackRequests.update(s.id, { compose: d.compose, env });
      qc.setQueryData(qk.stack(s.id), updated);
      void qc.invalidateQueries({ queryKey: qk.stacks });
      toast.success(`Saved ${s.name}`, s.containers > 0 ? 'Redeploy to apply it.' : undefined);
    } catch (e) {
      setSaveError(e);
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className="page" data-testid="page-stack">
      {back}
      <PageHeader
        title={s.name}
        description={
          <span className="header-meta">
            <span data-testid="stack-state" data-status={s.status} title={STACK_STATUS_HINT[s.status]} aria-live="polite">
              <StateBadge value={s.status} tones={STACK_STATUS_TONE} />
            </span>
            <StackSource s={s} />
            <span className="muted">on {s.endpoint.name}</span>
            {s.containers > 0 ? (
              <span className="muted">
                {s.running}/{s.containers} containers running
              </span>
            ) : null}
            {s.updated_at ? (
              <span className="muted">
                updated <RelativeTime value={new Date(s.updated_at).toISOString()} />
              </span>
            ) : null}
          </span>
        }
        actions={canOperate ? s.discovered ? <AdoptButton s={s} /> : <ActionButtons s={s} running={running} onRun={(action, volumes) => act.mutate({ action, volumes })} /> : null}
      />
      <AdoptionNote />
      {run ? <RunPanel run={run} onClose={() => setRun(null)} /> : null}
      <div className="split stack-split">
        <div>
          {s.discovered ? (
            <section className="card" aria-labelledby="disc-h">
              <h2 id="disc-h" className="card-title">
                Discovered project
              </h2>
              <p>
                <strong>{s.name}</strong> runs on <strong>{s.endpoint.name}</strong> but is not stored by ContextBay, so its compose file is not
                shown and it cannot be deployed from here. {canOperate ? 'Adopt it to manage it: nothing is restarted.' : 'An operator can adopt it.'}
              </p>
              {s.working_dir || s.config_files.length ? (
                <dl className="kv">
                  {s.working_dir ? (
                    <>
                      <dt>Working directory</dt>
                      <dd>
                        <code>{s.working_dir}</code>
                      </dd>
                    </>
                  ) : null}
                  {s.config_files.length ? (
                    <>
                      <dt>Compose files</dt>
                      <dd>
                        {s.config_files.map((f) => (
                          <code key={f} className="block-code">
                            {f}
                          </code>
                        ))}
                      </dd>
                    </>
                  ) : null}
                </dl>
              ) : null}
            </section>
          ) : initial ? (
            <StackEditor
              initial={initial}
              isNew={false}
              readOnly={!canOperate}
              busy={saving}
              onSubmit={(d, env) => void save(d, env)}
              onCancel={() => undefined}
              submitLabel="Save"
              error={saveError}
            />
          ) : null}
        </div>
        <div>
          <section className="card" aria-labelledby="svc-h">
            <h2 id="svc-h" className="card-title">
              Services
            </h2>
            {s.services.length === 0 ? (
              <p className="muted">None declared.</p>
            ) : (
              <ul className="plain-list service-list" data-testid="stack-services">
                {s.services.map((svc) => (
                  <li key={svc.name} data-service={svc.name}>
                    <strong>{svc.name}</strong>
                    <span className="muted small">
                      {svc.containers === 0 ? 'not created' : `${svc.running}/${svc.containers} running`}
                    </span>
                  </li>
                ))}
              </ul>
            )}
            {s.containers > 0 ? (
              <p className="small">
                <Link
                  to={`/containers?${new URLSearchParams({ endpoint: s.endpoint.id, label: `com.docker.compose.project=${s.name}` }).toString()}`}
                  data-testid="stack-containers-link"
                >
                  Its containers →
                </Link>
              </p>
            ) : null}
          </section>
          {!s.discovered ? (
            <section className="card" aria-labelledby="about-h">
              <h2 id="about-h" className="card-title">
                How it runs
              </h2>
              <p className="muted small">
                Deploy runs <code>up -d --remove-orphans</code> with the stored file on {s.endpoint.name}; Stop runs <code>stop</code>; Remove
                containers runs <code>down</code>. The output streams here as it happens.
              </p>
            </section>
          ) : null}
        </div>
      </div>
    </div>
  );
}

export default function StackDetailPage() {
  const { id = '' } = useParams();
  return <ExistingStackPage key={id} id={id} />;
}
