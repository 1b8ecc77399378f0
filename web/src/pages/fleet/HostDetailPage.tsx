// One host on its way to being fused: the one-time token and install command, the fuse state
// and the enroll attempts, all updated live from host.* / node.* events.

import './add-host.css';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, errorMessage } from '../../api/client';
import { forgetToken, rememberToken, takeToken, useHost, useHostAttempts } from '../../api/fleet';
import { qk } from '../../api/keys';
import type { Host, HostWithToken } from '../../api/types';
import { useCan } from '../../auth/session';
import { LabelChips, StateBadge } from '../../components/data';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, CopyButton, EmptyState, ErrorState, Loading, PageHeader, RelativeTime } from '../../components/ui';
import { describeReason, FUSE_TONE, fuseSteps } from '../../lib/fleet';
import { DeleteHostDialog, TokenCell } from './HostsPage';

function OneTimeToken({ hostId, onDone }: { hostId: string; onDone: () => void }) {
  const t = takeToken(hostId);
  if (!t) return null;
  return (
    <section className="card" aria-labelledby="tok-h" data-testid="host-token-card">
      <h2 id="tok-h" className="card-title">
        Enroll this host
      </h2>
      <div className="callout callout-warn" role="alert">
        <Icon name="alert" size={18} />
        <div>
          <strong>Copy the command now — the token is shown only once.</strong>
          <p>It enrolls exactly one worker and expires. Regenerate it if it is lost or expires.</p>
        </div>
      </div>
      <p className="muted small">Run on the host (the worker binary is the same <code>contextbay</code> binary):</p>
      <div className="secret-box snippet-box">
        <code className="secret" data-testid="host-snippet">
          {t.snippet}
        </code>
        <CopyButton text={t.snippet} label="Copy command" testId="host-snippet-copy" />
      </div>
      <p className="muted small">Token alone:</p>
      <div className="secret-box">
        <code className="secret" data-testid="host-token">
          {t.token}
        </code>
        <CopyButton text={t.token} testId="host-token-copy" />
      </div>
      <div className="card-footer">
        <button type="button" className="btn" onClick={onDone} data-testid="host-token-done">
          I have copied it — hide the token
        </button>
      </div>
    </section>
  );
}

function FuseProgress({ host }: { host: Host }) {
  const steps = fuseSteps(host.fuse);
  const current = steps.findIndex((s) => !s.done);
  return (
    <section className="card" aria-labelledby="fuse-h" data-testid="fuse-state" data-state={host.fuse.state}>
      <div className="card-header">
        <h2 id="fuse-h" className="card-title">
          Fuse state
        </h2>
        <span aria-live="polite">
          <StateBadge value={host.fuse.state} tones={FUSE_TONE} />
        </span>
      </div>
      <ol className="steps">
        {steps.map((s, i) => (
          <li key={s.key} className={`step ${s.done ? 'step-done' : i === current ? 'step-current' : 'step-todo'}`} data-testid={`fuse-step-${s.key}`} data-done={s.done}>
            <span className="step-mark" aria-hidden="true">
              {s.done ? <Icon name="check" size={14} /> : i === current ? <span className="spinner spinner-xs" /> : i + 1}
            </span>
            <div>
              <strong>{s.label}</strong>
              <span className="sr-only">{s.done ? ' (done)' : i === current ? ' (waiting)' : ' (not yet)'}</span>
              <div className="muted small">{s.help}</div>
            </div>
          </li>
        ))}
      </ol>
      {host.fuse.missing.length ? (
        <p className="muted small" data-testid="fuse-missing">
          Missing: {host.fuse.missing.map((m) => m.replace(/_/g, ' ')).join(', ')}.
        </p>
      ) : null}
    </section>
  );
}

function Attempts({ hostId }: { hostId: string }) {
  const attempts = useHostAttempts(hostId);
  let body: ReactNode;
  if (attempts.isPending) body = <Loading />;
  else if (attempts.isError) body = <ErrorState error={attempts.error} onRetry={() => void attempts.refetch()} />;
  else if (attempts.data.items.length === 0)
    body = (
      <p className="muted" data-testid="attempts-empty">
        No worker has tried to enroll with this host’s token yet. Attempts appear here as they happen.
      </p>
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table table-dense" data-testid="attempts-table">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Result</th>
              <th scope="col">Reason</th>
              <th scope="col">Hostname</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {attempts.data.items.map((a) => {
              const r = describeReason(a.reason);
              return (
                <tr key={a.id} data-testid="attempt-row" data-reason={a.reason}>
                  <td className="nowrap">
                    <RelativeTime value={a.ts} />
                  </td>
                  <td>{a.accepted ? <Badge tone="ok">accepted</Badge> : <Badge tone="bad">refused</Badge>}</td>
                  <td>
                    <strong>{r.label}</strong> <code className="muted small">{a.reason}</code>
                    {!a.accepted && r.hint ? <div className="muted small">{r.hint}</div> : null}
                  </td>
                  <td>{a.hostname ?? <span className="muted">—</span>}</td>
                  <td>
                    <code>{a.source_ip ?? '—'}</code>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    );
  return (
    <section className="card" aria-labelledby="att-h">
      <h2 id="att-h" className="card-title">
        Enroll attempts
      </h2>
      {body}
    </section>
  );
}

export default function HostDetailPage() {
  const { id = '' } = useParams();
  const isAdmin = useCan('admin');
  const qc = useQueryClient();
  const toast = useToast();
  const navigate = useNavigate();
  const host = useHost(id);
  const [, setTick] = useState(0);
  const [deleting, setDeleting] = useState(false);

  const setHost = (h: Host) => qc.setQueryData(qk.host(id), h);

  const regenerate = useMutation({
    mutationFn: () => api.post<HostWithToken>(`/api/hosts/${encodeURIComponent(id)}/regenerate-token`),
    onSuccess: (h) => {
      rememberToken(h.id, h.enroll_token, h.install_snippet);
      const { enroll_token: _t, ...rest } = h;
      setHost({ ...rest, install_snippet: rest.install_snippet.replace(h.enroll_token, '<ENROLL_TOKEN>') });
      setTick((t) => t + 1);
      toast.success('New enroll token created', 'The previous token no longer works.');
    },
    onError: (e) => toast.error('Could not regenerate the token', errorMessage(e)),
  });
  const fuse = useMutation({
    mutationFn: (kind: 'fuse' | 'retry-fuse') => api.post<Host>(`/api/hosts/${encodeURIComponent(id)}/${kind}`),
    onSuccess: (h) => {
      setHost(h);
      toast.success(h.fuse.fused ? `Host ${h.name} is fused` : `Host ${h.name}: ${h.fuse.state}`);
    },
    onError: (e) => toast.error('Could not fuse the host', errorMessage(e)),
  });

  if (host.isPending) return <Loading />;
  if (host.isError)
    return (
      <div className="page" data-testid="page-host">
        <BackLink />
        {host.error && (host.error as { status?: number }).status === 404 ? (
          <EmptyState icon="server" title="Host not found" testId="host-not-found">
            <p>It may have been deleted.</p>
          </EmptyState>
        ) : (
          <ErrorState error={host.error} onRetry={() => void host.refetch()} />
        )}
      </div>
    );

  const h = host.data;
  const enrolled = h.fuse.state !== 'pending';
  const actions = isAdmin ? (
    <>
      {!enrolled ? (
        <button type="button" className="btn" onClick={() => regenerate.mutate()} disabled={regenerate.isPending} data-testid="host-regenerate">
          <Icon name="refresh" size={16} /> {regenerate.isPending ? 'Regenerating…' : 'Regenerate token'}
        </button>
      ) : null}
      {enrolled && !h.fuse.fused ? (
        <>
          <button type="button" className="btn" onClick={() => fuse.mutate('retry-fuse')} disabled={fuse.isPending} data-testid="host-retry-fuse" title="Ask the worker for its Docker engine again, then fuse">
            <Icon name="refresh" size={16} /> Retry fuse
          </button>
          <button type="button" className="btn btn-primary" onClick={() => fuse.mutate('fuse')} disabled={fuse.isPending} data-testid="host-fuse">
            <Icon name="zap" size={16} /> Fuse
          </button>
        </>
      ) : null}
      <button type="button" className="btn btn-danger-ghost" onClick={() => setDeleting(true)} data-testid="host-delete">
        <Icon name="trash" size={16} /> Delete
      </button>
    </>
  ) : null;

  return (
    <div className="page" data-testid="page-host">
      <BackLink />
      <PageHeader
        title={h.name}
        description={
          <>
            Host <code>{h.id}</code>
            {enrolled ? (
              <>
                {' · '}
                <Link to={`/fleet/${encodeURIComponent(h.id)}`} data-testid="host-node-link">
                  open the node
                </Link>
              </>
            ) : null}
          </>
        }
        actions={actions}
      />
      <OneTimeToken
        hostId={h.id}
        onDone={() => {
          forgetToken(h.id);
          setTick((t) => t + 1);
        }}
      />
      <div className="split">
        <div>
          <FuseProgress host={h} />
          <Attempts hostId={h.id} />
        </div>
        <div>
          <section className="card" aria-labelledby="hd-h">
            <h2 id="hd-h" className="card-title">
              Details
            </h2>
            <dl className="kv">
              <dt>Hostname</dt>
              <dd>{h.hostname ?? <span className="muted">not reported yet</span>}</dd>
              <dt>Agent version</dt>
              <dd>{h.agent_version ?? '—'}</dd>
              <dt>Enroll token</dt>
              <dd>
                <TokenCell host={h} />
              </dd>
              <dt>Created</dt>
              <dd>
                <RelativeTime value={h.created_at} />
              </dd>
              <dt>Enrolled</dt>
              <dd>
                <RelativeTime value={h.enrolled_at} fallback="not yet" />
              </dd>
              <dt>Fused</dt>
              <dd>
                <RelativeTime value={h.fused_at} fallback="not yet" />
              </dd>
              <dt>Labels</dt>
              <dd>
                <LabelChips labels={h.labels} max={20} />
              </dd>
            </dl>
          </section>
          {!enrolled && !takeToken(h.id) ? (
            <section className="card" aria-labelledby="inst-h">
              <h2 id="inst-h" className="card-title">
                Install command
              </h2>
              <p className="muted small card-intro">
                The token was shown once, when it was created. {isAdmin ? 'Regenerate it to get a new command.' : 'An administrator can regenerate it.'}
              </p>
              <code className="secret snippet-placeholder">{h.install_snippet}</code>
            </section>
          ) : null}
        </div>
      </div>
      {deleting ? (
        <DeleteHostDialog
          host={h}
          onClose={() => setDeleting(false)}
          onDeleted={() => {
            forgetToken(h.id);
            qc.removeQueries({ queryKey: qk.host(h.id) });
            void qc.invalidateQueries({ queryKey: qk.hostLists });
            toast.success(`Host ${h.name} deleted`);
            navigate('/hosts', { replace: true });
          }}
        />
      ) : null}
    </div>
  );
}

function BackLink() {
  return (
    <Link to="/hosts" className="back-link">
      <Icon name="arrowLeft" size={16} /> Hosts
    </Link>
  );
}
