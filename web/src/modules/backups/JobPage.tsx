// A backup job: its definition, "run now", and its records (runs) with live progress from
// `backup.progress` events; per successful record verify, restore (into the original volume or a
// new one, confirmed) and download (a plain link to the download route).

import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { errorMessage } from '../../api/client';
import { waitForOperation } from '../../api/stacks';
import { useCan } from '../../auth/session';
import { Dialog } from '../../components/Dialog';
import { FormError, FormField, useForm } from '../../components/Form';
import { Icon } from '../../components/Icon';
import { pageQuery, ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Badge, ErrorState, Loading, PageHeader, RelativeTime } from '../../components/ui';
import { useLiveEvents } from '../../live/LiveProvider';
import { formatBytes, formatDuration, formatNumber } from '../../lib/format';
import { backupKeys, backupRequests, useBackupJob, useBackupRecords, type BackupJob, type BackupRecord, type RecordPage } from './api';
import { applyProgress, downloadHref, progressOf, RECORD_TONE, restoreTarget, retentionText, sourceText, volumeSource, type RunProgress } from './backups';
import JobEditor from './JobEditor';
import './backups.css';

function RestoreDialog({ job, record, onClose }: { job: BackupJob; record: BackupRecord; onClose: () => void }) {
  const toast = useToast();
  const qc = useQueryClient();
  const source = volumeSource(job.source);
  const form = useForm({
    initial: { mode: 'new' as 'original' | 'new', volume: `${source?.volume ?? 'backup'}-restored` },
    validate: (v) => {
      const { error } = restoreTarget(v.mode, v.volume);
      return error ? { volume: error } : {};
    },
    onSubmit: async (v) => {
      const accepted = await backupRequests.restore(job.id, record.id, restoreTarget(v.mode, v.volume).volume);
      onClose();
      const op = await waitForOperation(accepted.operation.id);
      return { op, target: v.mode === 'new' ? v.volume.trim() : (source?.volume ?? '') };
    },
    onSuccess: (result) => {
      const { op, target } = result as { op: { state: string; error?: string | null }; target: string };
      if (op.state === 'succeeded') toast.success(`Restored into volume ${target}`);
      else toast.error(`Restore into ${target} ${op.state}`, op.error ?? undefined);
      void qc.invalidateQueries({ queryKey: ['volumes'] });
    },
  });
  return (
    <Dialog
      title="Restore backup"
      onClose={onClose}
      onSubmit={(e) => void form.handleSubmit(e)}
      busy={form.submitting}
      testId="backup-restore-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className={form.values.mode === 'original' ? 'btn btn-danger' : 'btn btn-primary'} disabled={form.submitting} data-testid="backup-restore-submit">
            {form.submitting ? 'Starting…' : 'Restore'}
          </button>
        </>
      }
    >
      <FormError form={form} />
      <p>
        Restore the run of <RelativeTime value={record.started_at} /> ({formatBytes(record.size_bytes)}, {formatNumber(record.files)} entries).
      </p>
      <div className="radio-group" role="radiogroup" aria-label="Restore into">
        <label>
          <input type="radio" name="mode" checked={form.values.mode === 'new'} onChange={() => form.setValue('mode', 'new')} data-testid="backup-restore-new" /> A new volume
        </label>
        <label>
          <input type="radio" name="mode" checked={form.values.mode === 'original'} onChange={() => form.setValue('mode', 'original')} data-testid="backup-restore-original" /> The original
          volume <code>{source?.volume}</code>
        </label>
      </div>
      {form.values.mode === 'new' ? (
        <FormField form={form} name="volume" label="New volume" hint={`Created on ${source?.endpoint ?? 'the endpoint'}; it must not exist yet.`}>
          {(p) => <input {...p} data-testid="backup-restore-volume" data-autofocus />}
        </FormField>
      ) : (
        <p className="form-error" role="note">
          The volume’s content is replaced by the archive’s; the containers using it are stopped and started again.
        </p>
      )}
    </Dialog>
  );
}

function progressText(p: RunProgress | undefined): string {
  return p ? `${formatBytes(p.bytes)} read, ${formatBytes(p.written)} written` : 'starting…';
}

export default function JobPage() {
  const { id = '' } = useParams();
  const canOperate = useCan('operator');
  const toast = useToast();
  const qc = useQueryClient();
  const job = useBackupJob(id);
  const state = useTableParams();
  const records = useBackupRecords(id, pageQuery(state.params));
  const [progress, setProgress] = useState<Record<string, RunProgress>>({});
  const [busy, setBusy] = useState<Record<string, string>>({});
  const [editing, setEditing] = useState(false);
  const [restoring, setRestoring] = useState<BackupRecord | null>(null);

  useLiveEvents((ev) => {
    if (ev.type === 'backup.progress') {
      const p = progressOf(ev.payload);
      if (p && p.job_id === id) {
        setProgress((s) => applyProgress(s, p));
        // A run started elsewhere (schedule, another tab): show its record.
        if (!records.data?.items.some((r) => r.id === p.record_id)) void qc.invalidateQueries({ queryKey: ['backups', 'records', id] });
      }
    } else if (ev.type === 'backup.finished' && ev.payload.job_id === id) {
      void qc.invalidateQueries({ queryKey: ['backups', 'records', id] });
    }
  });

  if (job.isPending) return <Loading />;
  if (job.isError) return <ErrorState error={job.error} onRetry={() => void job.refetch()} />;
  const j = job.data;

  const runNow = async () => {
    try {
      const accepted = await backupRequests.run(j.id);
      toast.success(`Backup ${j.name} started`);
      // Shown at once as running, so the progress events that follow have a row to land on.
      qc.setQueryData(backupKeys.records(id, pageQuery(state.params)), (old: RecordPage | undefined) =>
        old ? { ...old, items: [accepted.record, ...old.items.filter((r) => r.id !== accepted.record.id)], total: old.total + 1 } : old,
      );
    } catch (e) {
      toast.error(`Backup ${j.name} not started`, errorMessage(e));
    }
  };

  const verify = async (r: BackupRecord) => {
    setBusy((b) => ({ ...b, [r.id]: 'verifying' }));
    try {
      const accepted = await backupRequests.verify(j.id, r.id);
      const op = await waitForOperation(accepted.operation.id);
      if (op.state !== 'succeeded') toast.error(`Verify ${op.state}`, op.error ?? undefined);
      await qc.invalidateQueries({ queryKey: ['backups', 'records', id] });
    } catch (e) {
      toast.error('Verify not started', errorMessage(e));
    } finally {
      setBusy(({ [r.id]: _, ...rest }) => rest);
    }
  };

  const columns: Column<BackupRecord>[] = [
    { key: 'started', header: 'Started', sortValue: (r) => r.started_at, cell: (r) => <RelativeTime value={r.started_at} /> },
    {
      key: 'status',
      header: 'Status',
      cell: (r) => (
        <>
          <Badge tone={RECORD_TONE[r.status] ?? 'neutral'} dot>
            {r.status}
          </Badge>
          {r.status === 'running' ? (
            <div className="muted small" data-testid="backup-progress">
              {progressText(progress[r.id])}
            </div>
          ) : null}
          {r.error ? <div className="field-error small">{r.error}</div> : null}
          {busy[r.id] ? <div className="muted small">{busy[r.id]}…</div> : null}
        </>
      ),
    },
    { key: 'origin', header: 'Origin', cell: (r) => r.origin },
    { key: 'size', header: 'Size', sortValue: (r) => r.size_bytes ?? 0, cell: (r) => formatBytes(r.size_bytes) },
    { key: 'files', header: 'Entries', cell: (r) => formatNumber(r.files) },
    { key: 'duration', header: 'Duration', cell: (r) => (r.duration_ms === null || r.duration_ms === undefined ? '—' : formatDuration(r.duration_ms / 1000)) },
    {
      key: 'verified',
      header: 'Verified',
      cell: (r) =>
        r.verify_error ? (
          <Badge tone="bad">{r.verify_error}</Badge>
        ) : r.verified_at ? (
          <span data-testid="backup-verified">
            <Badge tone="ok">intact</Badge> <RelativeTime value={r.verified_at} />
          </span>
        ) : (
          <span className="muted">—</span>
        ),
    },
    {
      key: 'archive',
      header: 'Archive',
      cell: (r) =>
        r.status === 'succeeded' ? (
          <a className="btn btn-sm" href={downloadHref(j.id, r.id)} download data-testid="backup-record-download" aria-label="Download archive">
            <Icon name="download" size={14} /> Download
          </a>
        ) : (
          '—'
        ),
    },
    {
      key: 'sha',
      header: 'SHA-256',
      cell: (r) => (r.sha256 ? <code className="mono-cell" title={r.sha256}>{r.sha256.slice(0, 12)}</code> : '—'),
    },
  ];

  return (
    <div className="page" data-testid="page-backup-job">
      <Link to="/backups" className="back-link">
        <Icon name="arrowLeft" size={16} /> Backups
      </Link>
      <PageHeader
        title={j.name}
        description={
          <>
            Source <code>{sourceText(j.source)}</code> · {j.schedule ? <><code>{j.schedule.cron}</code> ({j.schedule.timezone}), next <RelativeTime value={j.next_run_at} /></> : 'manual'} · keep {retentionText(j.retention)}
            {j.hooks.stop_containers ? ' · stops its containers during runs' : ''}
          </>
        }
        actions={
          canOperate ? (
            <>
              <button type="button" className="btn" onClick={() => setEditing(true)} data-testid="backup-job-edit">
                <Icon name="edit" size={16} /> Edit
              </button>
              <button type="button" className="btn btn-primary" onClick={() => void runNow()} data-testid="backup-run-now">
                <Icon name="play" size={16} /> Run now
              </button>
            </>
          ) : null
        }
      />
      <ResourceTable
        query={records}
        state={state}
        columns={columns}
        rowKey={(r) => r.id}
        rowProps={(r) => ({ 'data-testid': 'backup-record-row', 'data-status': r.status })}
        actions={[
          { label: () => 'Verify archive', icon: 'shield', testId: 'backup-record-verify', hidden: (r) => r.status !== 'succeeded', disabled: (r) => Boolean(busy[r.id]), onClick: (r) => void verify(r) },
          { label: () => 'Restore', icon: 'upload', testId: 'backup-record-restore', hidden: (r) => r.status !== 'succeeded', onClick: setRestoring },
        ]}
        empty={{ icon: 'database', title: 'No runs yet', body: <p>{canOperate ? 'Run the job now, or wait for its schedule.' : 'The job has not run yet.'}</p> }}
        noun="records"
        testId="backup-records-table"
      />
      {editing ? <JobEditor job={j} onClose={() => setEditing(false)} /> : null}
      {restoring ? <RestoreDialog job={j} record={restoring} onClose={() => setRestoring(null)} /> : null}
    </div>
  );
}
