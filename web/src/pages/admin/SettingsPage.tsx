import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import { api, errorMessage } from '../../api/client';
import { useModules, useSetting } from '../../api/hooks';
import { qk } from '../../api/keys';
import type { ItemList, ModuleConfig, ModuleInfo, Setting } from '../../api/types';
import { ConfirmDialog } from '../../components/Dialog';
import { ModuleConfigDialog, patchModuleInList } from './ModuleConfigDialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, InlineError, Loading, PageHeader, Switch } from '../../components/ui';

function useSaveSetting<V>(key: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (value: V) => api.put<Setting<V>>(`/api/settings/${encodeURIComponent(key)}`, { value }),
    onSuccess: (s) => qc.setQueryData(qk.setting(key), s),
  });
}

function InstanceNameSetting() {
  const setting = useSetting<string>('ui.instance_name');
  const save = useSaveSetting<string>('ui.instance_name');
  const toast = useToast();
  const current = typeof setting.data?.value === 'string' ? setting.data.value : '';
  const [value, setValue] = useState(current);
  const [dirty, setDirty] = useState(false);

  useEffect(() => {
    if (!dirty) setValue(current);
  }, [current, dirty]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate(value.trim(), {
      onSuccess: () => {
        setDirty(false);
        toast.success('Instance name saved');
      },
    });
  };

  return (
    <form className="setting-row" onSubmit={submit}>
      <div className="setting-label">
        <label htmlFor="s-instance-name">Instance name</label>
        <p className="muted small">Shown in the sidebar and the browser tab, to tell installations apart.</p>
      </div>
      <div className="setting-control">
        <div className="input-row">
          <input
            id="s-instance-name"
            value={value}
            placeholder="ContextBay"
            maxLength={100}
            required
            onChange={(e) => {
              setValue(e.target.value);
              setDirty(true);
            }}
            disabled={setting.isPending}
            data-testid="settings-instance-name"
          />
          <button type="submit" className="btn btn-primary" disabled={save.isPending || !dirty || !value.trim() || value.trim() === current} data-testid="settings-instance-name-save">
            {save.isPending ? 'Saving…' : 'Save'}
          </button>
        </div>
        {setting.isError ? <InlineError error={setting.error} /> : null}
        <InlineError error={save.error} />
      </div>
    </form>
  );
}

function DefaultThemeSetting() {
  const setting = useSetting<string>('ui.default_theme');
  const save = useSaveSetting<string>('ui.default_theme');
  const toast = useToast();
  const v = setting.data?.value;
  const current = v === 'light' || v === 'dark' || v === 'system' ? v : 'system';
  return (
    <div className="setting-row">
      <div className="setting-label">
        <label htmlFor="s-default-theme">Default theme</label>
        <p className="muted small">For browsers that have not picked a theme with the toggle in the top bar.</p>
      </div>
      <div className="setting-control">
        <select
          id="s-default-theme"
          value={current}
          disabled={setting.isPending || save.isPending}
          data-testid="settings-default-theme"
          onChange={(e) => {
            const next = e.target.value;
            save.mutate(next, { onSuccess: () => toast.success(`Default theme set to ${next}`) });
          }}
        >
          <option value="system">Follow the system</option>
          <option value="dark">Dark</option>
          <option value="light">Light</option>
        </select>
        <InlineError error={save.error} />
      </div>
    </div>
  );
}

function ModulesSection() {
  const modules = useModules();
  const qc = useQueryClient();
  const toast = useToast();
  const [configuring, setConfiguring] = useState<ModuleInfo | null>(null);

  const toggle = useMutation({
    mutationFn: ({ name, enabled }: { name: string; enabled: boolean }) =>
      api.put<ModuleConfig>(`/api/config/${encodeURIComponent(name)}`, { enabled }),
    onMutate: ({ name, enabled }) => {
      // Optimistic: flip the switch now, roll back on error.
      const prev = qc.getQueryData<ItemList<ModuleInfo>>(qk.modules);
      qc.setQueryData<ItemList<ModuleInfo>>(qk.modules, (old) =>
        old ? { ...old, items: old.items.map((m) => (m.name === name ? { ...m, enabled } : m)) } : old,
      );
      return { prev };
    },
    onError: (e, { name }, ctx) => {
      if (ctx?.prev) qc.setQueryData(qk.modules, ctx.prev);
      toast.error(`Could not update ${name}`, errorMessage(e));
    },
    onSuccess: (res) => {
      patchModuleInList(qc, res);
      qc.setQueryData(qk.moduleConfig(res.module), res);
      toast.success(`Module ${res.module} ${res.enabled ? 'enabled' : 'disabled'}`);
    },
  });

  if (modules.isPending) return <Loading />;
  if (modules.isError) return <ErrorState error={modules.error} onRetry={() => void modules.refetch()} />;
  if (modules.data.items.length === 0) return <EmptyState icon="puzzle" title="No modules available" />;

  return (
    <>
      <ul className="module-list" data-testid="modules">
        {modules.data.items.map((m) => (
          <li key={m.name} className="module" data-testid="module-row" data-module={m.name}>
            <div className="module-main">
              <div className="module-title">
                <strong>{m.name}</strong>
                {m.enabled ? <Badge tone="ok">enabled</Badge> : <Badge>disabled</Badge>}
                {m.configured ? null : (
                  <Badge tone="warn" dot>
                    not configured
                  </Badge>
                )}
              </div>
              <p className="muted small">{m.description}</p>
              {m.problems && m.problems.length > 0 ? (
                <ul className="small module-problems" data-testid="module-problems">
                  {m.problems.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
              ) : null}
            </div>
            <div className="module-actions">
              <button type="button" className="btn btn-sm" onClick={() => setConfiguring(m)} data-testid={`module-configure-${m.name}`}>
                <Icon name="settings" size={16} /> Configure
              </button>
              <Switch
                checked={m.enabled}
                label={`${m.enabled ? 'Disable' : 'Enable'} ${m.name}`}
                disabled={toggle.isPending && toggle.variables?.name === m.name}
                onChange={(enabled) => toggle.mutate({ name: m.name, enabled })}
                testId={`module-toggle-${m.name}`}
              />
            </div>
          </li>
        ))}
      </ul>
      {configuring ? <ModuleConfigDialog module={configuring} onClose={() => setConfiguring(null)} /> : null}
    </>
  );
}

function ExportImportSection() {
  const toast = useToast();
  const qc = useQueryClient();
  const fileRef = useRef<HTMLInputElement>(null);
  const [exporting, setExporting] = useState(false);
  const [pendingImport, setPendingImport] = useState<{ name: string; doc: unknown } | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);

  const download = async () => {
    setExporting(true);
    try {
      const doc = await api.get<unknown>('/api/export');
      const blob = new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `contextbay-export-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.json`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 1000);
      toast.success('Export downloaded');
    } catch (e) {
      toast.error('Export failed', errorMessage(e));
    } finally {
      setExporting(false);
    }
  };

  const pick = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    setFileError(null);
    try {
      const doc: unknown = JSON.parse(await file.text());
      if (!doc || typeof doc !== 'object') throw new Error('the file is not a JSON object');
      setPendingImport({ name: file.name, doc });
    } catch (err) {
      setFileError(`Cannot read ${file.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  return (
    <div className="setting-row">
      <div className="setting-label">
        <span className="label">Configuration export</span>
        <p className="muted small">This instance's configuration as one JSON document, to back up or move to another master. Secrets are never included.</p>
      </div>
      <div className="setting-control">
        <div className="input-row">
          <button type="button" className="btn" onClick={() => void download()} disabled={exporting} data-testid="export-download">
            <Icon name="download" size={16} /> {exporting ? 'Preparing…' : 'Download export'}
          </button>
          <button type="button" className="btn" onClick={() => fileRef.current?.click()} data-testid="import-pick">
            <Icon name="upload" size={16} /> Import…
          </button>
          <input ref={fileRef} type="file" accept="application/json,.json" className="sr-only" tabIndex={-1} aria-hidden="true" onChange={(e) => void pick(e)} data-testid="import-file" />
        </div>
        {fileError ? (
          <p className="form-error" role="alert">
            {fileError}
          </p>
        ) : null}
      </div>
      {pendingImport ? (
        <ConfirmDialog
          title="Import configuration"
          confirmLabel="Import"
          testId="import-dialog"
          message={
            <p>
              Import <strong>{pendingImport.name}</strong> into this instance? Existing items with the same identity are updated.
            </p>
          }
          onClose={() => setPendingImport(null)}
          onConfirm={async () => {
            const res = await api.post<{ imported?: Record<string, number> }>('/api/import', pendingImport.doc);
            const counts = Object.entries(res?.imported ?? {})
              .map(([k, v]) => `${v} ${k}`)
              .join(', ');
            toast.success('Import complete', counts || undefined);
            void qc.invalidateQueries();
          }}
        />
      ) : null}
    </div>
  );
}

export default function SettingsPage() {
  return (
    <div className="page" data-testid="page-settings">
      <PageHeader title="Settings & modules" description="Instance-wide preferences and the optional feature modules." />
      <section className="card" aria-labelledby="general-h">
        <h2 id="general-h" className="card-title">
          General
        </h2>
        <InstanceNameSetting />
        <DefaultThemeSetting />
      </section>
      <section className="card" aria-labelledby="modules-h">
        <h2 id="modules-h" className="card-title">
          Modules
        </h2>
        <p className="muted small card-intro">
          Modules add features backed by other services. A module whose service is not set up reports itself as not configured
          instead of failing.
        </p>
        <ModulesSection />
      </section>
      <section className="card" aria-labelledby="backup-h">
        <h2 id="backup-h" className="card-title">
          Backup & restore
        </h2>
        <ExportImportSection />
      </section>
    </div>
  );
}
