// Images across endpoints: pull with per-layer progress (image.pull events while the request
// runs), prune with the space reclaimed, remove.

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import { useImages } from '../../api/docker';
import { qk } from '../../api/keys';
import type { DockerImage, PruneReport, PullResult } from '../../api/types';
import { useCan } from '../../auth/session';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { pageQuery, ResourceTable, useTableParams, type Column, type RowAction } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Field, InlineError, PageHeader, RelativeTime } from '../../components/ui';
import { useLiveEvents } from '../../live/LiveProvider';
import { shortId } from '../../lib/containers';
import { formatBytes } from '../../lib/format';
import { applyPullEvent, initialPull, layerPercent, pullSummary, type PullState } from '../../lib/pull';
import { EndpointSelect } from './ContainersPage';

function PullPanel({ onClose }: { onClose: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [image, setImage] = useState('');
  const [endpoint, setEndpoint] = useState('');
  const [progress, setProgress] = useState<PullState | null>(null);
  const [touched, setTouched] = useState(false);

  useLiveEvents((ev) => {
    if (ev.type !== 'image.pull') return;
    setProgress((s) => (s ? applyPullEvent(s, ev.payload) : s));
  });

  const pull = useMutation({
    mutationFn: (body: { image: string; endpoint?: string }) => api.post<PullResult>('/api/images/pull', body),
    onMutate: (body) => setProgress(initialPull(body.image, body.endpoint ?? 'local')),
    onSuccess: (r) => {
      // Progress sent with the result (non-streaming endpoints) fills what events missed.
      setProgress((s) => (s ? r.layers.reduce((acc, l) => applyPullEvent(acc, { ...l, image: r.image, endpoint: r.endpoint.id }), s) : s));
      void qc.invalidateQueries({ queryKey: qk.images });
      toast.success(`Pulled ${r.image}`, `on ${r.endpoint.name}`);
    },
  });

  const imageError = touched && (!image.trim() || /\s/.test(image.trim())) ? 'An image reference like alpine:3.20.' : null;
  const sum = progress ? pullSummary(progress) : null;

  return (
    <section className="card" aria-labelledby="pull-h" data-testid="pull-panel">
      <div className="card-header">
        <h2 id="pull-h" className="card-title">
          Pull an image
        </h2>
        <button type="button" className="icon-btn" aria-label="Close pull panel" onClick={onClose} disabled={pull.isPending}>
          <Icon name="x" />
        </button>
      </div>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setTouched(true);
          const ref = image.trim();
          if (!ref || /\s/.test(ref)) return;
          pull.mutate(endpoint ? { image: ref, endpoint } : { image: ref });
        }}
      >
        <Field label="Image" htmlFor="pull-image" error={imageError}>
          <input id="pull-image" value={image} onChange={(e) => setImage(e.target.value)} placeholder="alpine:3.20" spellCheck={false} autoFocus data-testid="pull-image" />
        </Field>
        <Field label="Endpoint" htmlFor="pull-endpoint">
          <EndpointSelect id="pull-endpoint" value={endpoint} onChange={setEndpoint} emptyLabel="Default (the master’s engine)" testId="pull-endpoint" />
        </Field>
        <button type="submit" className="btn btn-primary" disabled={pull.isPending} data-testid="pull-submit">
          <Icon name="download" size={16} /> {pull.isPending ? 'Pulling…' : 'Pull'}
        </button>
      </form>
      <InlineError error={pull.error} />
      {progress && sum ? (
        <div className="pull-progress" data-testid="pull-progress" aria-live="polite">
          <p className="small">
            <strong>{progress.image}</strong>{' '}
            {pull.isPending ? (
              <span className="muted">
                {sum.layers ? `${sum.done} of ${sum.layers} layers` : 'waiting for the engine…'}
                {sum.total ? ` · ${formatBytes(sum.current)} of ${formatBytes(sum.total)}` : ''}
              </span>
            ) : pull.isSuccess ? (
              <span className="text-ok" data-testid="pull-done">
                done{sum.layers ? ` · ${sum.layers} layers` : ''}
              </span>
            ) : pull.isError ? (
              <span className="text-bad">failed</span>
            ) : null}
          </p>
          {progress.message ? <p className="muted small">{progress.message}</p> : null}
          <ul className="layer-list">
            {progress.order.map((id) => {
              const l = progress.layers[id]!;
              const pct = layerPercent(l);
              return (
                <li key={id} className="layer" data-testid="pull-layer">
                  <code className="layer-id">{id.slice(0, 12)}</code>
                  <div className="meter meter-ok" role="progressbar" aria-label={`Layer ${id.slice(0, 12)}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct === null ? undefined : Math.round(pct)}>
                    <span style={{ width: `${pct ?? 0}%` }} className={pct === null ? 'indeterminate' : undefined} />
                  </div>
                  <span className="layer-status small muted">
                    {l.status}
                    {!l.done && l.total ? ` ${formatBytes(l.current ?? 0)} / ${formatBytes(l.total)}` : ''}
                  </span>
                </li>
              );
            })}
          </ul>
        </div>
      ) : null}
    </section>
  );
}

function PruneDialog({ onClose }: { onClose: () => void }) {
  const qc = useQueryClient();
  const [endpoint, setEndpoint] = useState('');
  const [all, setAll] = useState(false);
  const prune = useMutation({
    mutationFn: () => api.post<PruneReport>('/api/images/prune', endpoint ? { endpoint, all } : { all }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: qk.images }),
  });
  if (prune.data) {
    return (
      <Dialog title="Images pruned" onClose={onClose} size="sm" testId="prune-dialog" footer={<button type="button" className="btn btn-primary" onClick={onClose} data-autofocus>Done</button>}>
        <p data-testid="prune-result">
          Removed <strong>{prune.data.deleted.length}</strong> image{prune.data.deleted.length === 1 ? '' : 's'} and layers, reclaiming{' '}
          <strong>{formatBytes(prune.data.space_reclaimed_bytes)}</strong>.
        </p>
      </Dialog>
    );
  }
  return (
    <Dialog
      title="Prune images"
      size="sm"
      onClose={onClose}
      busy={prune.isPending}
      testId="prune-dialog"
      onSubmit={() => prune.mutate()}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={prune.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-danger" disabled={prune.isPending} data-testid="prune-submit" data-autofocus>
            {prune.isPending ? 'Pruning…' : 'Prune'}
          </button>
        </>
      }
    >
      <Field label="Endpoint" htmlFor="prune-endpoint">
        <EndpointSelect id="prune-endpoint" value={endpoint} onChange={setEndpoint} emptyLabel="Default (the master’s engine)" />
      </Field>
      <label className="checkbox">
        <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} data-testid="prune-all" />
        <span>
          Every unused image <span className="muted">— not only dangling (untagged) ones</span>
        </span>
      </label>
      <InlineError error={prune.error} />
    </Dialog>
  );
}

export default function ImagesPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const table = useTableParams(['endpoint']);
  const endpoint = table.params.extra.endpoint ?? '';
  const list = useImages({ endpoint, ...pageQuery(table.params) });
  const [pulling, setPulling] = useState(false);
  const [pruning, setPruning] = useState(false);
  const [removing, setRemoving] = useState<DockerImage | null>(null);
  const [force, setForce] = useState(false);
  const columns: Column<DockerImage>[] = [
    {
      key: 'tag',
      header: 'Repository / tag',
      sortValue: (i) => i.tags[0] ?? '',
      cell: (i) => (
        <>
          {i.tags.length ? <code className="mono-cell">{i.tags[0]}</code> : <span className="muted">&lt;none&gt;</span>}
          {i.tags.length > 1 ? <span className="muted small" title={i.tags.slice(1).join(', ')}> +{i.tags.length - 1}</span> : null}
        </>
      ),
    },
    { key: 'id', header: 'ID', cell: (i) => <code className="mono-cell">{shortId(i.id)}</code> },
    { key: 'endpoint', header: 'Endpoint', sortValue: (i) => i.endpoint.name, cell: (i) => i.endpoint.name },
    { key: 'size', header: 'Size', className: 'num', sortValue: (i) => i.size_bytes, cell: (i) => formatBytes(i.size_bytes) },
    {
      key: 'created',
      header: 'Created',
      className: 'nowrap',
      sortValue: (i) => i.created,
      cell: (i) => <RelativeTime value={i.created ? new Date(i.created * 1000).toISOString() : null} />,
    },
    {
      key: 'containers',
      header: 'Containers',
      className: 'num',
      sortValue: (i) => (i.containers >= 0 ? i.containers : null),
      cell: (i) => (i.containers >= 0 ? i.containers : '—'),
    },
  ];
  const actions: RowAction<DockerImage>[] = [
    {
      label: (i) => `Remove image ${i.tags[0] ?? shortId(i.id)}`,
      title: 'Remove',
      icon: 'trash',
      danger: true,
      testId: 'image-remove',
      onClick: (i) => {
        setForce(false);
        setRemoving(i);
      },
    },
  ];

  return (
    <div className="page" data-testid="page-images">
      <PageHeader
        title="Images"
        description="Images present on the fleet’s Docker engines."
        actions={
          canOperate ? (
            <>
              <button type="button" className="btn" onClick={() => setPruning(true)} data-testid="prune-images">
                <Icon name="scissors" size={16} /> Prune
              </button>
              <button type="button" className="btn btn-primary" onClick={() => setPulling(true)} disabled={pulling} data-testid="pull-images">
                <Icon name="download" size={16} /> Pull image
              </button>
            </>
          ) : null
        }
      />
      {pulling ? <PullPanel onClose={() => setPulling(false)} /> : null}
      <ResourceTable
        query={list}
        state={table}
        columns={columns}
        rowKey={(i) => `${i.endpoint.id}/${i.id}`}
        rowProps={() => ({ 'data-testid': 'image-row' })}
        actions={actions}
        filter={{ label: 'Filter images', placeholder: 'Tag or id…', testId: 'images-search', text: (i) => `${i.tags.join(' ')} ${i.id}` }}
        toolbar={
          <label className="inline-field">
            <span>Endpoint</span>
            <EndpointSelect value={endpoint} onChange={(v) => table.update({ endpoint: v })} />
          </label>
        }
        empty={{ icon: 'image', title: 'No images yet', filteredTitle: 'No matching images', body: <p>Images on the master’s engine and on fused nodes appear here.</p> }}
        noun="images"
        testId="images-table"
      />
      {pruning ? <PruneDialog onClose={() => setPruning(false)} /> : null}
      {removing ? (
        <ConfirmDialog
          title="Remove image"
          danger
          confirmLabel="Remove"
          testId="remove-image-dialog"
          message={
            <>
              <p>
                Remove <code>{removing.tags[0] ?? shortId(removing.id)}</code> from <strong>{removing.endpoint.name}</strong>?
              </p>
              <label className="checkbox">
                <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
                <span>
                  Force <span className="muted">— also when stopped containers use it or it has several tags</span>
                </span>
              </label>
            </>
          }
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api.del(`/api/images/${encodeURIComponent(removing.tags[0] ?? removing.id)}`, { query: { endpoint: removing.endpoint.id, force } });
            toast.success(`Removed ${removing.tags[0] ?? shortId(removing.id)}`);
          }}
        />
      ) : null}
    </div>
  );
}
