import { describe, expect, it } from 'vitest';
import { applyProgress, downloadHref, isTimeZone, jobBody, jobForm, nextFirings, progressOf, restoreTarget, retentionText, sourceText, volumeSource, type JobForm } from './backups';

const valid = (patch: Partial<JobForm> = {}): JobForm => ({ ...jobForm(null), name: 'db', 'source.volume': 'pgdata', ...patch });

describe('nextFirings', () => {
  it('computes the next firings in the time zone', () => {
    const from = new Date('2026-01-10T12:00:00Z');
    const { times, error } = nextFirings('30 2 * * *', 'Europe/Paris', 3, from);
    expect(error).toBeNull();
    // 02:30 in Paris is 01:30 UTC in winter.
    expect(times.map((t) => t.toISOString())).toEqual(['2026-01-11T01:30:00.000Z', '2026-01-12T01:30:00.000Z', '2026-01-13T01:30:00.000Z']);
  });
  it('follows daylight saving time', () => {
    const { times } = nextFirings('0 12 * * *', 'Europe/Paris', 1, new Date('2026-07-01T00:00:00Z'));
    expect(times[0]?.toISOString()).toBe('2026-07-01T10:00:00.000Z');
  });
  it('reads nicknames, steps and names', () => {
    expect(nextFirings('@daily', 'UTC', 1, new Date('2026-01-10T12:00:00Z')).times[0]?.toISOString()).toBe('2026-01-11T00:00:00.000Z');
    expect(nextFirings('*/15 * * * MON', 'UTC', 1, new Date('2026-01-10T12:00:00Z')).times[0]?.toISOString()).toBe('2026-01-12T00:00:00.000Z');
  });
  it('refuses what the master refuses', () => {
    expect(nextFirings('', 'UTC').error).toMatch(/required/);
    expect(nextFirings('0 0 * * * *', 'UTC').error).toMatch(/five fields/);
    expect(nextFirings('0 0 *', 'UTC').error).toMatch(/five fields/);
    expect(nextFirings('61 0 * * *', 'UTC').error).not.toBeNull();
    expect(nextFirings('0 0 * * *', 'Mars/Olympus').error).toMatch(/IANA/);
  });
});

describe('isTimeZone', () => {
  it('knows IANA zones', () => {
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('America/New_York')).toBe(true);
    expect(isTimeZone('Nowhere/City')).toBe(false);
    expect(isTimeZone(' ')).toBe(false);
  });
});

describe('jobBody', () => {
  it('builds the request of a manual job', () => {
    const { body, errors } = jobBody(valid({ name: '  db  ' }));
    expect(errors).toEqual({});
    expect(body).toEqual({
      name: 'db',
      source: { kind: 'volume', endpoint: 'local', volume: 'pgdata' },
      storage: { kind: 'local' },
      compression: 'zstd',
      retention: { keep_last: 7, keep_daily: 0, keep_weekly: 0, keep_monthly: 0 },
      hooks: { stop_containers: false },
      schedule: null,
    });
  });
  it('sends the schedule when on', () => {
    const { body } = jobBody(valid({ scheduled: true, 'schedule.cron': '0 3 * * 1', 'schedule.timezone': 'Europe/Berlin' }));
    expect(body?.schedule).toEqual({ cron: '0 3 * * 1', timezone: 'Europe/Berlin' });
  });
  it('names every field at fault', () => {
    const { body, errors } = jobBody(
      valid({ name: ' ', 'source.volume': '-bad', 'retention.keep_last': '0', 'retention.keep_daily': '1001', 'retention.keep_weekly': '1.5', scheduled: true, 'schedule.cron': 'nope' }),
    );
    expect(body).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(['name', 'retention.keep_daily', 'retention.keep_last', 'retention.keep_weekly', 'schedule.cron', 'source.volume']);
  });
  it('checks the time zone before the pattern', () => {
    const { errors } = jobBody(valid({ scheduled: true, 'schedule.timezone': 'Moon/Base' }));
    expect(errors['schedule.timezone']).toMatch(/IANA/);
    expect(errors['schedule.cron']).toBeUndefined();
  });
  it('ignores a bad schedule while scheduling is off', () => {
    expect(jobBody(valid({ scheduled: false, 'schedule.cron': 'nope' })).errors).toEqual({});
  });
  it('fills the form from a job', () => {
    const f = jobForm({
      id: 'j',
      name: 'n',
      source: { kind: 'volume', endpoint: 'e1', volume: 'v' },
      storage: { kind: 'local' },
      compression: 'none',
      retention: { keep_last: 3, keep_daily: 2, keep_weekly: 0, keep_monthly: 0 },
      hooks: { stop_containers: true },
      schedule: { cron: '@weekly', timezone: 'UTC' },
      created_at: '',
      updated_at: '',
    });
    expect(f).toMatchObject({ 'source.endpoint': 'e1', compression: 'none', scheduled: true, 'schedule.cron': '@weekly', 'retention.keep_last': '3', 'retention.keep_daily': '2', 'retention.keep_monthly': '0', stop_containers: true });
  });
});

describe('progress', () => {
  it('reads backup.progress payloads', () => {
    expect(progressOf({ job_id: 'j', record_id: 'r', bytes: 10, written: 4 })).toEqual({ job_id: 'j', record_id: 'r', bytes: 10, written: 4 });
    expect(progressOf({ job_id: 'j', record_id: 'r', bytes: '10', written: 4 })).toBeNull();
    expect(progressOf(null)).toBeNull();
  });
  it('never moves a run backwards', () => {
    let s = applyProgress({}, { job_id: 'j', record_id: 'r', bytes: 100, written: 10 });
    s = applyProgress(s, { job_id: 'j', record_id: 'r', bytes: 50, written: 5 });
    expect(s.r?.bytes).toBe(100);
    s = applyProgress(s, { job_id: 'j', record_id: 'r', bytes: 200, written: 20 });
    expect(s.r?.written).toBe(20);
  });
});

describe('restore and download', () => {
  it('restores into the original volume or a checked new one', () => {
    expect(restoreTarget('original', 'whatever')).toEqual({ volume: null, error: null });
    expect(restoreTarget('new', ' copy-1 ')).toEqual({ volume: 'copy-1', error: null });
    expect(restoreTarget('new', '').error).toMatch(/Name/);
    expect(restoreTarget('new', 'a b').error).not.toBeNull();
  });
  it('links the download route', () => {
    expect(downloadHref('a b', 'r/1')).toBe('/api/backup-jobs/a%20b/records/r%2F1/download');
  });
  it('says the retention in words', () => {
    expect(retentionText({ keep_last: 7 })).toBe('last 7');
    expect(retentionText({ keep_last: 2, keep_daily: 7, keep_monthly: 12 })).toBe('last 2, 7 daily, 12 monthly');
  });
});

describe('job sources', () => {
  it('a volume job names its endpoint and volume; a database job has no volume', () => {
    const vol = { kind: 'volume' as const, endpoint: 'e1', volume: 'pgdata' };
    expect(volumeSource(vol)).toEqual({ endpoint: 'e1', volume: 'pgdata' });
    expect(sourceText(vol)).toBe('e1 / pgdata');
    expect(volumeSource({ kind: 'database' })).toBeNull();
    expect(sourceText({ kind: 'database' })).toBe('the ContextBay database');
  });
});
