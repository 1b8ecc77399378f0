// The backup-job editor on the shared form pattern: source (a volume picked from the chosen
// endpoint's volumes), schedule (cron + time zone, with the next firings computed as you type),
// retention, compression and the stop-containers hook. The master's 400 lands on the field it
// names (`schedule.cron`, `source.volume`, `retention.keep_last`, …).

import { useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';
import { useEndpointOptions, useVolumes } from '../../api/docker';
import { Dialog } from '../../components/Dialog';
import { FormError, FormField, useForm } from '../../components/Form';
import { useToast } from '../../components/Toaster';
import { Switch } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { backupKeys, backupRequests, type BackupJob } from './api';
import { jobBody, jobForm, nextFirings, type JobForm } from './backups';

function NextFirings({ cron, timezone }: { cron: string; timezone: string }) {
  const { times, error } = useMemo(() => nextFirings(cron, timezone, 5), [cron, timezone]);
  if (error) return <p className="muted small" data-testid="schedule-preview-error">{error}</p>;
  return (
    <div className="schedule-preview" data-testid="schedule-preview">
      <span className="muted small">Next firings ({timezone}):</span>
      <ul>
        {times.map((t) => (
          <li key={t.getTime()}>
            <time dateTime={t.toISOString()}>{formatDateTime(t.getTime())}</time>
          </li>
        ))}
      </ul>
    </div>
  );
}

export default function JobEditor({ job, onClose }: { job: BackupJob | null; onClose: () => void }) {
  const toast = useToast();
  const qc = useQueryClient();
  const endpoints = useEndpointOptions();
  const form = useForm<JobForm>({
    initial: jobForm(job),
    validate: (v) => jobBody(v).errors,
    onSubmit: async (v) => {
      const { body } = jobBody(v);
      if (!body) throw new Error('the form has errors');
      return job ? backupRequests.update(job.id, body) : backupRequests.create(body);
    },
    onSuccess: (result) => {
      const saved = result as BackupJob;
      toast.success(`Backup job ${saved.name} ${job ? 'saved' : 'created'}`);
      void qc.invalidateQueries({ queryKey: backupKeys.all });
      onClose();
    },
  });
  const endpoint = form.values['source.endpoint'];
  const volumes = useVolumes({ endpoint, limit: 500 });
  const names = useMemo(() => {
    const all = new Set((volumes.data?.items ?? []).map((v) => v.name));
    if (form.values['source.volume']) all.add(form.values['source.volume']);
    return [...all].sort();
  }, [volumes.data, form.values]);

  return (
    <Dialog
      title={job ? `Edit backup job ${job.name}` : 'New backup job'}
      onClose={onClose}
      onSubmit={(e) => void form.handleSubmit(e)}
      size="lg"
      busy={form.submitting}
      testId="backup-job-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="backup-job-submit">
            {form.submitting ? 'Saving…' : job ? 'Save' : 'Create job'}
          </button>
        </>
      }
    >
      <FormError form={form} />
      <FormField form={form} name="name" label="Name">
        {(p) => <input {...p} data-testid="backup-job-name" data-autofocus />}
      </FormField>
      <fieldset className="backup-fieldset">
        <legend>Source: a Docker volume</legend>
        <div className="form-row">
          <FormField form={form} name="source.endpoint" label="Endpoint">
            {(p) => (
              <select {...p} onChange={(e) => form.setValues({ 'source.endpoint': e.target.value, 'source.volume': '' })} data-testid="backup-job-endpoint">
                {endpoints.options.some((o) => o.id === endpoint) ? null : <option value={endpoint}>{endpoint}</option>}
                {endpoints.options.map((o) => (
                  <option key={o.id} value={o.id}>
                    {o.label}
                  </option>
                ))}
              </select>
            )}
          </FormField>
          <FormField form={form} name="source.volume" label="Volume" hint={volumes.isPending ? 'Loading the endpoint’s volumes…' : volumes.isError ? 'The endpoint’s volumes could not be listed.' : undefined}>
            {(p) => (
              <select {...p} data-testid="backup-job-volume">
                <option value="">Choose a volume…</option>
                {names.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            )}
          </FormField>
        </div>
        <div className="switch-row">
          <Switch
            checked={form.values.stop_containers}
            onChange={(v) => form.setValue('stop_containers', v)}
            label="Stop the containers using the volume during the run"
            testId="backup-job-stop"
            disabled={form.submitting}
          />
          <span>Stop the containers using the volume during the run (a consistent copy; started again afterwards)</span>
        </div>
      </fieldset>
      <fieldset className="backup-fieldset">
        <legend>Schedule</legend>
        <div className="switch-row">
          <Switch checked={form.values.scheduled} onChange={(v) => form.setValue('scheduled', v)} label="Run on a schedule" testId="backup-job-scheduled" disabled={form.submitting} />
          <span>{form.values.scheduled ? 'Runs on a schedule' : 'Runs only when asked'}</span>
        </div>
        {form.values.scheduled ? (
          <>
            <div className="form-row">
              <FormField form={form} name="schedule.cron" label="Cron pattern" hint="minute hour day-of-month month day-of-week, e.g. 30 2 * * * (nicknames like @daily too)">
                {(p) => <input {...p} className="mono" spellCheck={false} data-testid="backup-job-cron" />}
              </FormField>
              <FormField form={form} name="schedule.timezone" label="Time zone" hint="IANA, e.g. Europe/Paris or UTC">
                {(p) => <input {...p} spellCheck={false} data-testid="backup-job-timezone" />}
              </FormField>
            </div>
            <NextFirings cron={form.values['schedule.cron']} timezone={form.values['schedule.timezone']} />
          </>
        ) : null}
      </fieldset>
      <fieldset className="backup-fieldset">
        <legend>Retention and storage</legend>
        <div className="form-row">
          <FormField form={form} name="retention.keep_last" label="Keep last">
            {(p) => <input {...p} inputMode="numeric" data-testid="backup-job-keep-last" />}
          </FormField>
          <FormField form={form} name="retention.keep_daily" label="Daily">
            {(p) => <input {...p} inputMode="numeric" data-testid="backup-job-keep-daily" />}
          </FormField>
          <FormField form={form} name="retention.keep_weekly" label="Weekly">
            {(p) => <input {...p} inputMode="numeric" data-testid="backup-job-keep-weekly" />}
          </FormField>
          <FormField form={form} name="retention.keep_monthly" label="Monthly">
            {(p) => <input {...p} inputMode="numeric" data-testid="backup-job-keep-monthly" />}
          </FormField>
        </div>
        <div className="form-row">
          <FormField form={form} name="compression" label="Compression">
            {(p) => (
              <select {...p} data-testid="backup-job-compression">
                <option value="zstd">tar + zstd</option>
                <option value="none">plain tar</option>
              </select>
            )}
          </FormField>
          <p className="muted small backup-storage">Storage: the master’s backup directory, one folder per job.</p>
        </div>
      </fieldset>
    </Dialog>
  );
}
