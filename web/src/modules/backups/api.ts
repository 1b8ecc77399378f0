// The backups module's calls and shapes, typed by the generated OpenAPI document. Query keys
// under ['backups', …]; the module's live handler refreshes them when a run ends.

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { components } from '../../api/schema';
import { typed } from '../../api/typed';

type Schemas = components['schemas'];

export type BackupJob = Schemas['BackupJobView'];
export type BackupRecord = Schemas['RecordView'];
export type JobBody = Schemas['CreateBackupJob'];
export type RunAccepted = Schemas['RunAccepted'];
export type RecordPage = Schemas['Paginated_RecordView'];

export const backupKeys = {
  all: ['backups'] as const,
  jobs: (p: { limit: number; offset: number }) => ['backups', 'jobs', p] as const,
  job: (id: string) => ['backups', 'job', id] as const,
  records: (id: string, p: { limit: number; offset: number }) => ['backups', 'records', id, p] as const,
};

export function useBackupJobs(p: { limit: number; offset: number }) {
  return useQuery({
    queryKey: backupKeys.jobs(p),
    queryFn: ({ signal }) => typed.get('/api/backup-jobs', { query: p, signal }),
    placeholderData: keepPreviousData,
  });
}

export function useBackupJob(id: string) {
  return useQuery({
    queryKey: backupKeys.job(id),
    queryFn: ({ signal }) => typed.get('/api/backup-jobs/{id}', { path: { id }, signal }),
  });
}

export function useBackupRecords(id: string, p: { limit: number; offset: number }) {
  return useQuery({
    queryKey: backupKeys.records(id, p),
    queryFn: ({ signal }) => typed.get('/api/backup-jobs/{id}/records', { path: { id }, query: p, signal }),
    placeholderData: keepPreviousData,
  });
}

export const backupRequests = {
  create: (body: JobBody) => typed.post('/api/backup-jobs', { body }),
  update: (id: string, body: JobBody) => typed.put('/api/backup-jobs/{id}', { path: { id }, body }),
  remove: (id: string) => typed.del('/api/backup-jobs/{id}', { path: { id } }),
  run: (id: string) => typed.post('/api/backup-jobs/{id}/run', { path: { id } }),
  verify: (id: string, rid: string) => typed.post('/api/backup-jobs/{id}/records/{rid}/verify', { path: { id, rid } }),
  restore: (id: string, rid: string, volume: string | null) =>
    typed.post('/api/backup-jobs/{id}/records/{rid}/restore', { path: { id, rid }, body: volume ? { volume } : {} }),
};
