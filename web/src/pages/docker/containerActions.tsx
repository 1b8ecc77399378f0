// Container actions shared by the list and the detail page: the buttons (by state, operators and
// admins only), confirmation for destructive ones, and remove with its options.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, errorMessage } from '../../api/client';
import { qk } from '../../api/keys';
import type { Container, ContainerAction, ContainerPage } from '../../api/types';
import { ConfirmDialog } from '../../components/Dialog';
import { Icon, type IconName } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { ACTION_LABEL, availableActions, DESTRUCTIVE_ACTIONS, stateAfterAction } from '../../lib/containers';

const ACTION_ICON: Record<ContainerAction, IconName> = {
  start: 'play',
  stop: 'stop',
  restart: 'refresh',
  pause: 'pause',
  unpause: 'play',
  kill: 'zap',
};

const CONFIRM_TEXT: Partial<Record<ContainerAction, string>> = {
  stop: 'Docker sends SIGTERM, then SIGKILL after the grace period. Whatever it serves stops.',
  restart: 'The container is stopped and started again; it is unavailable meanwhile.',
  kill: 'Docker sends SIGKILL: the processes get no chance to shut down cleanly.',
};

const enc = encodeURIComponent;

function patchState(qc: ReturnType<typeof useQueryClient>, c: Container, patch: Partial<Container>) {
  qc.setQueriesData<ContainerPage>({ queryKey: qk.containerLists }, (old) =>
    old && Array.isArray(old.items)
      ? { ...old, items: old.items.map((x) => (x.id === c.id && x.endpoint.id === c.endpoint.id ? { ...x, ...patch } : x)) }
      : old,
  );
  qc.setQueryData<Container>(qk.container(c.endpoint.id, c.id), (old) => (old ? { ...old, ...patch } : old));
}

export function useContainerAction() {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: ({ c, action }: { c: Container; action: ContainerAction }) =>
      api.post<unknown>(`/api/containers/${enc(c.id)}/${action}`, {}, { query: { endpoint: c.endpoint.id } }),
    onSuccess: (_r, { c, action }) => {
      const after = stateAfterAction(action);
      if (after) patchState(qc, c, after);
      toast.success(`${ACTION_LABEL[action]}: ${c.name}`);
    },
    onError: (e, { c, action }) => toast.error(`Could not ${ACTION_LABEL[action].toLowerCase()} ${c.name}`, errorMessage(e)),
  });
}

export function ContainerActions({ c, compact, onRemoved }: { c: Container; compact?: boolean; onRemoved?: () => void }) {
  const run = useContainerAction();
  const [confirm, setConfirm] = useState<ContainerAction | null>(null);
  const [removing, setRemoving] = useState(false);
  const busy = run.isPending && run.variables?.c.id === c.id && run.variables.c.endpoint.id === c.endpoint.id;
  const actions = availableActions(c.state);

  const trigger = (action: ContainerAction) => (DESTRUCTIVE_ACTIONS.has(action) ? setConfirm(action) : run.mutate({ c, action }));

  return (
    <div className="row-actions" data-testid="container-actions">
      {actions.map((a) => (
        <button
          key={a}
          type="button"
          className={compact ? 'icon-btn icon-btn-sm' : 'btn btn-sm'}
          onClick={() => trigger(a)}
          disabled={busy}
          aria-label={`${ACTION_LABEL[a]} ${c.name}`}
          title={ACTION_LABEL[a]}
          data-testid={`container-${a}`}
        >
          <Icon name={ACTION_ICON[a]} size={compact ? 15 : 14} />
          {compact ? null : ACTION_LABEL[a]}
        </button>
      ))}
      <button
        type="button"
        className={compact ? 'icon-btn icon-btn-sm icon-btn-danger' : 'btn btn-sm btn-danger-ghost'}
        onClick={() => setRemoving(true)}
        disabled={busy}
        aria-label={`Remove ${c.name}`}
        title="Remove"
        data-testid="container-remove"
      >
        <Icon name="trash" size={compact ? 15 : 14} />
        {compact ? null : 'Remove'}
      </button>
      {busy ? <span className="spinner spinner-sm" aria-label="Working" /> : null}
      {confirm ? (
        <ConfirmDialog
          title={`${ACTION_LABEL[confirm]} container`}
          danger={confirm === 'kill'}
          confirmLabel={ACTION_LABEL[confirm]}
          testId="container-confirm"
          message={
            <p>
              {ACTION_LABEL[confirm]} <strong>{c.name}</strong> on <strong>{c.endpoint.name}</strong>? {CONFIRM_TEXT[confirm]}
            </p>
          }
          onClose={() => setConfirm(null)}
          onConfirm={() => run.mutateAsync({ c, action: confirm })}
        />
      ) : null}
      {removing ? <RemoveDialog c={c} onClose={() => setRemoving(false)} onRemoved={onRemoved} /> : null}
    </div>
  );
}

function RemoveDialog({ c, onClose, onRemoved }: { c: Container; onClose: () => void; onRemoved: (() => void) | undefined }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [force, setForce] = useState(c.state === 'running' || c.state === 'paused' || c.state === 'restarting');
  const [volumes, setVolumes] = useState(false);
  return (
    <ConfirmDialog
      title="Remove container"
      danger
      confirmLabel="Remove"
      testId="container-remove-dialog"
      message={
        <>
          <p>
            Remove <strong>{c.name}</strong> from <strong>{c.endpoint.name}</strong>? This cannot be undone.
          </p>
          <label className="checkbox">
            <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} data-testid="remove-force" />
            <span>
              Force <span className="muted">— kill it first if it is running</span>
            </span>
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={volumes} onChange={(e) => setVolumes(e.target.checked)} data-testid="remove-volumes" />
            <span>
              Remove its anonymous volumes <span className="muted">— named volumes are kept</span>
            </span>
          </label>
        </>
      }
      onClose={onClose}
      onConfirm={async () => {
        await api.del(`/api/containers/${enc(c.id)}`, { query: { endpoint: c.endpoint.id, force, volumes } });
        qc.setQueriesData<ContainerPage>({ queryKey: qk.containerLists }, (old) =>
          old && Array.isArray(old.items)
            ? {
                ...old,
                items: old.items.filter((x) => !(x.id === c.id && x.endpoint.id === c.endpoint.id)),
                total: Math.max(0, old.total - 1),
              }
            : old,
        );
        toast.success(`Removed ${c.name}`);
        onRemoved?.();
      }}
    />
  );
}
