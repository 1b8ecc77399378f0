// The backups module's logic, apart from React: the job editor's form and its checks, the
// schedule's next firings (computed here with croner, the JavaScript sibling of the Rust croner
// the master schedules with), and run progress from `backup.progress` events.

import { Cron } from 'croner';
import type { Tone } from '../../components/ui';
import type { BackupJob, JobBody } from './api';

/** The editor's values; keys are the API's field paths, so a 400 naming one lands on its field. */
export interface JobForm {
  name: string;
  'source.endpoint': string;
  'source.volume': string;
  compression: 'zstd' | 'none';
  /** Whether the job runs on a schedule. */
  scheduled: boolean;
  'schedule.cron': string;
  'schedule.timezone': string;
  'retention.keep_last': string;
  'retention.keep_daily': string;
  'retention.keep_weekly': string;
  'retention.keep_monthly': string;
  stop_containers: boolean;
}

export type JobField = Exclude<keyof JobForm, 'scheduled' | 'compression' | 'stop_containers'>;

export const MAX_KEEP = 1000;
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const RETENTION = ['keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly'] as const;

/** The endpoint and volume a job reads; null for a job of another source (the master's database). */
export function volumeSource(source: BackupJob['source']): { endpoint: string; volume: string } | null {
  return source.kind === 'volume' ? { endpoint: source.endpoint, volume: source.volume } : null;
}

/** A job's source in a few words. */
export function sourceText(source: BackupJob['source']): string {
  return source.kind === 'volume' ? `${source.endpoint} / ${source.volume}` : 'the ContextBay database';
}

export function jobForm(job: BackupJob | null): JobForm {
  const volume = job ? volumeSource(job.source) : null;
  return {
    name: job?.name ?? '',
    'source.endpoint': volume?.endpoint ?? 'local',
    'source.volume': volume?.volume ?? '',
    compression: job?.compression ?? 'zstd',
    scheduled: Boolean(job?.schedule),
    'schedule.cron': job?.schedule?.cron ?? '30 2 * * *',
    'schedule.timezone': job?.schedule?.timezone ?? browserTimeZone(),
    'retention.keep_last': String(job?.retention.keep_last ?? 7),
    'retention.keep_daily': String(job?.retention.keep_daily ?? 0),
    'retention.keep_weekly': String(job?.retention.keep_weekly ?? 0),
    'retention.keep_monthly': String(job?.retention.keep_monthly ?? 0),
    stop_containers: job?.hooks.stop_containers ?? false,
  };
}

export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Whether the runtime knows `tz` as an IANA time zone. */
export function isTimeZone(tz: string): boolean {
  if (!tz.trim()) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * The next `count` firings of a five-field cron pattern in `timezone` after `from`, or the reason
 * it cannot be read (the same rule as the master: five fields at most, no seconds or years).
 */
export function nextFirings(cron: string, timezone: string, count = 5, from: Date = new Date()): { times: Date[]; error: string | null } {
  const pattern = cron.trim();
  if (!pattern) return { times: [], error: 'a cron pattern is required, e.g. 30 2 * * *' };
  if (pattern.split(/\s+/).length > 5 || pattern.length > 128) {
    return { times: [], error: 'five fields: minute hour day-of-month month day-of-week' };
  }
  if (!isTimeZone(timezone)) return { times: [], error: `'${timezone}' is not an IANA time zone (e.g. Europe/Paris)` };
  if (!pattern.startsWith('@') && pattern.split(/\s+/).length < 5) {
    return { times: [], error: 'five fields: minute hour day-of-month month day-of-week' };
  }
  try {
    const job = new Cron(pattern, { timezone, paused: true });
    const times = job.nextRuns(count, from);
    job.stop();
    return { times, error: times.length === 0 ? 'this pattern never fires' : null };
  } catch (e) {
    return { times: [], error: e instanceof Error ? e.message : String(e) };
  }
}

function keep(v: string, min: number): number | null {
  const t = v.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= min && n <= MAX_KEEP ? n : null;
}

/** The request body, or the errors by field (the master checks again, and the volume's existence). */
export function jobBody(v: JobForm): { body: JobBody | null; errors: Partial<Record<JobField, string>> } {
  const errors: Partial<Record<JobField, string>> = {};
  const name = v.name.trim();
  if (!name) errors.name = 'A name is required.';
  else if (v.name.length > 128) errors.name = 'At most 128 characters.';
  if (!v['source.endpoint'].trim()) errors['source.endpoint'] = 'Choose the endpoint the volume is on.';
  const volume = v['source.volume'].trim();
  if (!volume) errors['source.volume'] = 'Choose a volume.';
  else if (volume.length > 128 || !VOLUME_NAME.test(volume)) errors['source.volume'] = 'Letters, digits, _ . - (starting with a letter or digit).';
  const retention: Record<string, number> = {};
  for (const k of RETENTION) {
    const field = `retention.${k}` as JobField;
    const n = keep(v[field] as string, k === 'keep_last' ? 1 : 0);
    if (n === null) errors[field] = `A whole number from ${k === 'keep_last' ? 1 : 0} to ${MAX_KEEP}.`;
    else retention[k] = n;
  }
  if (v.scheduled) {
    if (!isTimeZone(v['schedule.timezone'])) errors['schedule.timezone'] = `'${v['schedule.timezone']}' is not an IANA time zone (e.g. Europe/Paris).`;
    else {
      const { error } = nextFirings(v['schedule.cron'], v['schedule.timezone'], 1);
      if (error) errors['schedule.cron'] = error;
    }
  }
  if (Object.keys(errors).length > 0) return { body: null, errors };
  return {
    errors,
    body: {
      name,
      source: { kind: 'volume', endpoint: v['source.endpoint'].trim(), volume },
      storage: { kind: 'local' },
      compression: v.compression,
      retention: retention as unknown as JobBody['retention'],
      hooks: { stop_containers: v.stop_containers },
      schedule: v.scheduled ? { cron: v['schedule.cron'].trim(), timezone: v['schedule.timezone'].trim() } : null,
    },
  };
}

export const RECORD_TONE: Record<string, Tone> = { running: 'info', succeeded: 'ok', failed: 'bad', interrupted: 'warn' };

/** A run's progress as `backup.progress` reports it. */
export interface RunProgress {
  record_id: string;
  job_id: string;
  bytes: number;
  written: number;
}

/** Reads a `backup.progress` payload (anything else: null). */
export function progressOf(payload: unknown): RunProgress | null {
  if (!payload || typeof payload !== 'object') return null;
  const p = payload as Record<string, unknown>;
  if (typeof p.record_id !== 'string' || typeof p.job_id !== 'string') return null;
  if (typeof p.bytes !== 'number' || typeof p.written !== 'number') return null;
  return { record_id: p.record_id, job_id: p.job_id, bytes: p.bytes, written: p.written };
}

/** Progress by record id with one more report applied (a report never moves a run backwards). */
export function applyProgress(state: Readonly<Record<string, RunProgress>>, p: RunProgress): Record<string, RunProgress> {
  const prev = state[p.record_id];
  if (prev && prev.bytes > p.bytes) return state as Record<string, RunProgress>;
  return { ...state, [p.record_id]: p };
}

/** The download route of a record (a plain link: the browser sends the session cookie). */
export function downloadHref(jobId: string, recordId: string): string {
  return `/api/backup-jobs/${encodeURIComponent(jobId)}/records/${encodeURIComponent(recordId)}/download`;
}

/** `null` (restore into the original volume) or a new volume's name, with its check. */
export function restoreTarget(mode: 'original' | 'new', volume: string): { volume: string | null; error: string | null } {
  if (mode === 'original') return { volume: null, error: null };
  const v = volume.trim();
  if (!v) return { volume: null, error: 'Name the new volume.' };
  if (v.length > 128 || !VOLUME_NAME.test(v)) return { volume: null, error: 'Letters, digits, _ . - (starting with a letter or digit).' };
  return { volume: v, error: null };
}

export function jobPath(id: string): string {
  return `/backups/${encodeURIComponent(id)}`;
}

/** `last 7, 7 daily, 4 weekly` (the zero generations left out). */
export function retentionText(r: { keep_last?: number; keep_daily?: number; keep_weekly?: number; keep_monthly?: number }): string {
  const parts = [`last ${r.keep_last ?? 7}`];
  if (r.keep_daily) parts.push(`${r.keep_daily} daily`);
  if (r.keep_weekly) parts.push(`${r.keep_weekly} weekly`);
  if (r.keep_monthly) parts.push(`${r.keep_monthly} monthly`);
  return parts.join(', ');
}
