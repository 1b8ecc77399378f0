import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import { useModuleConfig } from '../../api/hooks';
import { qk } from '../../api/keys';
import type { ItemList, ModuleConfig, ModuleField, ModuleInfo } from '../../api/types';
import { Dialog } from '../../components/Dialog';
import { useToast } from '../../components/Toaster';
import { ErrorState, InlineError, Loading } from '../../components/ui';
import { buildPatch, initialForm, type FieldValue, type FormState } from '../../lib/moduleConfig';

export function patchModuleInList(qc: ReturnType<typeof useQueryClient>, res: ModuleConfig) {
  qc.setQueryData<ItemList<ModuleInfo>>(qk.modules, (old) =>
    old
      ? { ...old, items: old.items.map((m) => (m.name === res.module ? { ...m, enabled: res.enabled, configured: res.configured } : m)) }
      : old,
  );
}

function humanize(key: string): string {
  const s = key.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1).replace(/\burl\b/g, 'URL').replace(/\bapi\b/g, 'API');
}

/** A form generated from the module's field list. */
function FieldsForm({
  module,
  fields,
  config,
  onSaved,
  onClose,
}: {
  module: string;
  fields: ModuleField[];
  config: Record<string, unknown>;
  onSaved: (res: ModuleConfig) => void;
  onClose: () => void;
}) {
  const [initial] = useState<FormState>(() => initialForm(fields, config));
  const [values, setValues] = useState<Record<string, FieldValue>>(initial.values);
  const [clearSecrets, setClearSecrets] = useState<Set<string>>(new Set());
  const [errors, setErrors] = useState<Record<string, string>>({});

  const save = useMutation({
    mutationFn: (patch: Record<string, unknown>) => api.put<ModuleConfig>(`/api/config/${encodeURIComponent(module)}`, { config: patch }),
    onSuccess: onSaved,
  });

  const { patch } = buildPatch(fields, initial, values, clearSecrets);
  const dirty = Object.keys(patch).length > 0;

  const submit = () => {
    const r = buildPatch(fields, initial, values, clearSecrets);
    setErrors(r.errors);
    if (Object.keys(r.errors).length === 0 && Object.keys(r.patch).length > 0) save.mutate(r.patch);
  };

  const set = (key: string, v: FieldValue) => setValues((old) => ({ ...old, [key]: v }));

  return (
    <Dialog
      title={`Configure ${module}`}
      onClose={onClose}
      size="md"
      busy={save.isPending}
      onSubmit={submit}
      testId="module-config-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={save.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={save.isPending || !dirty} data-testid="module-config-save">
            {save.isPending ? 'Saving…' : 'Save configuration'}
          </button>
        </>
      }
    >
      {fields.map((f, i) => {
        const id = `mc-${f.key}`;
        const error = errors[f.key];
        const label = (
          <>
            {humanize(f.key)}
            {f.required ? <span className="required" aria-hidden="true"> *</span> : null}
          </>
        );
        if (f.kind === 'bool') {
          return (
            <div className="field" key={f.key}>
              <label className="checkbox">
                <input
                  type="checkbox"
                  checked={values[f.key] === true}
                  onChange={(e) => set(f.key, e.target.checked)}
                  data-testid={`module-field-${f.key}`}
                  {...(i === 0 ? { 'data-autofocus': true } : {})}
                />
                <span>
                  {label}
                  {f.help ? <span className="muted"> — {f.help}</span> : null}
                </span>
              </label>
            </div>
          );
        }
        const stored = f.kind === 'secret' && initial.storedSecrets.has(f.key);
        const clearing = clearSecrets.has(f.key);
        return (
          <div className={`field${error ? ' field-invalid' : ''}`} key={f.key}>
            <label htmlFor={id}>{label}</label>
            <div className="input-row">
              <input
                id={id}
                type={f.kind === 'secret' ? 'password' : f.kind === 'url' ? 'url' : f.kind === 'integer' ? 'number' : 'text'}
                inputMode={f.kind === 'integer' ? 'numeric' : undefined}
                autoComplete={f.kind === 'secret' ? 'new-password' : 'off'}
                spellCheck={false}
                required={f.required}
                placeholder={stored ? (clearing ? 'will be removed' : 'stored — type to replace') : f.kind === 'url' ? 'https://…' : ''}
                value={String(values[f.key] ?? '')}
                onChange={(e) => set(f.key, e.target.value)}
                aria-invalid={!!error}
                aria-describedby={`${id}-hint`}
                data-testid={`module-field-${f.key}`}
                {...(i === 0 ? { 'data-autofocus': true } : {})}
              />
              {stored ? (
                <button
                  type="button"
                  className="btn btn-sm"
                  aria-pressed={clearing}
                  onClick={() =>
                    setClearSecrets((old) => {
                      const n = new Set(old);
                      if (n.has(f.key)) n.delete(f.key);
                      else n.add(f.key);
                      return n;
                    })
                  }
                >
                  {clearing ? 'Keep' : 'Remove'}
                </button>
              ) : null}
            </div>
            <p className={error ? 'field-error' : 'field-hint'} id={`${id}-hint`}>
              {error ?? f.help}
            </p>
          </div>
        );
      })}
      <InlineError error={save.error} />
    </Dialog>
  );
}

/** Fallback for a master that does not describe the fields: the configuration as JSON. */
function JsonForm({
  module,
  config,
  onSaved,
  onClose,
}: {
  module: string;
  config: Record<string, unknown>;
  onSaved: (res: ModuleConfig) => void;
  onClose: () => void;
}) {
  const [text, setText] = useState(() => JSON.stringify(config ?? {}, null, 2));
  const [parseError, setParseError] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (cfg: Record<string, unknown>) => api.put<ModuleConfig>(`/api/config/${encodeURIComponent(module)}`, { config: cfg }),
    onSuccess: onSaved,
  });

  const submit = () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      setParseError(`Not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      setParseError('The configuration must be a JSON object.');
      return;
    }
    setParseError(null);
    save.mutate(parsed as Record<string, unknown>);
  };

  return (
    <Dialog
      title={`Configure ${module}`}
      onClose={onClose}
      size="lg"
      busy={save.isPending}
      onSubmit={submit}
      testId="module-config-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={save.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={save.isPending} data-testid="module-config-save">
            {save.isPending ? 'Saving…' : 'Save configuration'}
          </button>
        </>
      }
    >
      <div className="field">
        <label htmlFor="module-config-json">Configuration (JSON)</label>
        <textarea
          id="module-config-json"
          className="code-editor"
          rows={14}
          spellCheck={false}
          value={text}
          onChange={(e) => setText(e.target.value)}
          data-testid="module-config-json"
          data-autofocus
        />
        <p className="field-hint">Keys are merged into the stored configuration; a secret left as "********" keeps its value.</p>
      </div>
      {parseError ? (
        <p className="form-error" role="alert">
          {parseError}
        </p>
      ) : null}
      <InlineError error={save.error} />
    </Dialog>
  );
}

export function ModuleConfigDialog({ module, onClose }: { module: ModuleInfo; onClose: () => void }) {
  const cfg = useModuleConfig(module.name);
  const qc = useQueryClient();
  const toast = useToast();

  const onSaved = (res: ModuleConfig) => {
    qc.setQueryData(qk.moduleConfig(module.name), res);
    patchModuleInList(qc, res);
    toast.success(`Configuration of ${module.name} saved`, res.configured ? undefined : 'The module still reports itself as not configured.');
    onClose();
  };

  if (cfg.isPending || cfg.isError) {
    return (
      <Dialog title={`Configure ${module.name}`} onClose={onClose} testId="module-config-dialog">
        {cfg.isPending ? <Loading /> : <ErrorState error={cfg.error} onRetry={() => void cfg.refetch()} />}
      </Dialog>
    );
  }

  const fields = cfg.data.fields;
  if (fields && fields.length === 0) {
    return (
      <Dialog title={`Configure ${module.name}`} onClose={onClose} size="sm" testId="module-config-dialog">
        <p>
          <strong>{module.name}</strong> has no settings of its own. {module.description}
        </p>
      </Dialog>
    );
  }
  return fields ? (
    <FieldsForm key={cfg.dataUpdatedAt} module={module.name} fields={fields} config={cfg.data.config ?? {}} onSaved={onSaved} onClose={onClose} />
  ) : (
    <JsonForm module={module.name} config={cfg.data.config ?? {}} onSaved={onSaved} onClose={onClose} />
  );
}
