// Backup jobs: the list (source, schedule and its next firing, retention), and for operators
// create, edit, run now and delete. A job's runs and records are on its own page.

import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { errorMessage } from '../../api/client';
import { useCan } from '../../auth/session';
import { ConfirmDialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { pageQuery, ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { PageHeader, RelativeTime } from '../../components/ui';
import { backupKeys, backupRequests, useBackupJobs, type BackupJob } from './api';
import JobEditor from './JobEditor';
import { jobPath, retentionText, sourceText } from './backups';
import './backups.css';

const COLUMNS: Column<BackupJob>[] = [
  {
    key: 'name',
    header: 'Name',
    sortValue: (j) => j.name,
    cell: (j) => (
      <Link to={jobPath(j.id)} className="row-link" data-testid="backup-job-link">
        {j.name}
      </Link>
    ),
  },
  { key: 'source', header: 'Source', cell: (j) => <span className="mono-cell">{sourceText(j.source)}</span> },
  {
    key: 'schedule',
    header: 'Schedule',
    cell: (j) =>
      j.schedule ? (
        <>
          <code>{j.schedule.cron}</code> <span className="muted small">{j.schedule.timezone}</span>
          {j.next_run_at ? (
            <div className="muted small">
              next <RelativeTime value={j.next_run_at} />
            </div>
          ) : null}
        </>
      ) : (
        <span className="muted">manual</span>
      ),
  },
  { key: 'retention', header: 'Retention', cell: (j) => retentionText(j.retention) },
  { key: 'storage', header: 'Storage', cell: (j) => `${j.storage.kind}, ${j.compression === 'zstd' ? 'tar + zstd' : 'tar'}` },
];

export default function JobsPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const state = useTableParams();
  const list = useBackupJobs(pageQuery(state.params));
  const [editing, setEditing] = useState<BackupJob | 'new' | null>(null);
  const [deleting, setDeleting] = useState<BackupJob | null>(null);

  const runNow = async (j: BackupJob) => {
    try {
      await backupRequests.run(j.id);
      toast.success(`Backup ${j.name} started`);
      void qc.invalidateQueries({ queryKey: backupKeys.all });
      navigate(jobPath(j.id));
    } catch (e) {
      toast.error(`Backup ${j.name} not started`, errorMessage(e));
    }
  };

  return (
    <div className="page" data-testid="page-backup-jobs">
      <PageHeader
        title="Backups"
        description="Jobs that archive Docker volumes (tar + zstd, streamed) on a schedule or when asked, with their retention."
        actions={
          canOperate ? (
            <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} data-testid="backup-job-new">
              <Icon name="plus" size={16} /> New job
            </button>
          ) : null
        }
      />
      <ResourceTable
        query={list}
        state={state}
        columns={COLUMNS}
        rowKey={(j) => j.id}
        rowProps={(j) => ({ 'data-testid': 'backup-job-row', 'data-name': j.name })}
        actions={[
          { label: (j) => `Run backup ${j.name} now`, icon: 'play', testId: 'backup-job-run', onClick: (j) => void runNow(j) },
          { label: (j) => `Edit backup job ${j.name}`, icon: 'edit', testId: 'backup-job-edit', onClick: setEditing },
          { label: (j) => `Delete backup job ${j.name}`, icon: 'trash', danger: true, testId: 'backup-job-delete', onClick: setDeleting },
        ]}
        filter={{ label: 'Filter jobs', placeholder: 'Name or volume…', text: (j) => `${j.name} ${sourceText(j.source)}` }}
        empty={{ icon: 'database', title: 'No backup jobs', body: <p>A job archives a Docker volume to the master’s backup directory.</p> }}
        noun="jobs"
        testId="backup-jobs-table"
      />
      {editing ? <JobEditor job={editing === 'new' ? null : editing} onClose={() => setEditing(null)} /> : null}
      {deleting ? (
        <ConfirmDialog
          title="Delete backup job"
          danger
          confirmLabel="Delete job"
          testId="backup-job-delete-dialog"
          message={
            <p>
              Delete <strong>{deleting.name}</strong> with all its records <strong>and their archives</strong>? The volume itself is not touched.
            </p>
          }
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await backupRequests.remove(deleting.id);
            toast.success(`Backup job ${deleting.name} deleted`);
            await qc.invalidateQueries({ queryKey: backupKeys.all });
          }}
        />
      ) : null}
    </div>
  );
}
