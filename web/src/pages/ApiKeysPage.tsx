import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import { useApiKeys } from '../api/hooks';
import { qk } from '../api/keys';
import type { ApiKey, CreatedApiKey, Page, Role } from '../api/types';
import { useCurrentUser } from '../auth/session';
import { ConfirmDialog, Dialog } from '../components/Dialog';
import { FormError, FormField, useForm } from '../components/Form';
import { Icon } from '../components/Icon';
import { pageQuery, ResourceTable, useTableParams, type Column, type RowAction } from '../components/ResourceTable';
import { useToast } from '../components/Toaster';
import { CopyButton, PageHeader, RelativeTime, RoleBadge, Badge } from '../components/ui';
import { parseTime } from '../lib/format';
import { ROLE_HELP, ROLE_LABEL, rolesUpTo } from '../lib/roles';

const EXPIRY_CHOICES: { label: string; days: number | null }[] = [
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: '1 year', days: 365 },
  { label: '7 days', days: 7 },
  { label: 'Never', days: null },
];

interface NewKey {
  name: string;
  role: Role;
  /** Days, or `never`. */
  expiry: string;
}

function CreateKeyDialog({ onClose }: { onClose: () => void }) {
  const me = useCurrentUser();
  const qc = useQueryClient();
  const roles = rolesUpTo(me.role);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);

  const form = useForm<NewKey>({
    initial: { name: '', role: roles[roles.length - 1] ?? 'viewer', expiry: '30' },
    validate: (v) => (v.name.trim() ? {} : { name: 'Give the key a name, e.g. “ci-deploy”.' }),
    onSubmit: (v) => {
      const body: { name: string; role: Role; expires_in_days?: number } = { name: v.name.trim(), role: v.role };
      if (v.expiry !== 'never') body.expires_in_days = Number(v.expiry);
      return api.post<CreatedApiKey>('/api/keys', body);
    },
    onSuccess: (result) => {
      const k = result as CreatedApiKey;
      setCreated(k);
      // Never keep the secret in the cache: store the key without it.
      const { key: _secret, ...listed } = k;
      qc.setQueriesData<Page<ApiKey>>({ queryKey: qk.apiKeys }, (old) =>
        old && !old.items.some((x) => x.id === listed.id) ? { ...old, items: [listed, ...old.items], total: old.total + 1 } : old,
      );
      void qc.invalidateQueries({ queryKey: qk.apiKeys });
    },
  });

  if (created) {
    return (
      <Dialog
        title="API key created"
        onClose={onClose}
        testId="apikey-created-dialog"
        footer={
          <button type="button" className="btn btn-primary" onClick={onClose} data-testid="apikey-done" data-autofocus>
            I have stored the key
          </button>
        }
      >
        <div className="callout callout-warn" role="alert">
          <Icon name="alert" size={18} />
          <div>
            <strong>Copy this key now — it will not be shown again.</strong>
            <p>Store it in your secret manager. Anyone holding it can act as “{created.name}” with the {ROLE_LABEL[created.role].toLowerCase()} role.</p>
          </div>
        </div>
        <div className="secret-box">
          <code data-testid="apikey-secret" className="secret">
            {created.key}
          </code>
          <CopyButton text={created.key} testId="apikey-copy" />
        </div>
        <p className="muted small">
          Use it as <code>X-API-Key: {created.prefix}…</code> on requests to <code>/api</code>.
        </p>
      </Dialog>
    );
  }

  return (
    <Dialog
      title="Create API key"
      onClose={onClose}
      busy={form.submitting}
      testId="create-apikey-dialog"
      onSubmit={() => void form.handleSubmit()}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="create-apikey-submit">
            {form.submitting ? 'Creating…' : 'Create key'}
          </button>
        </>
      }
    >
      <FormField form={form} name="name" label="Name" hint="What uses this key, so you know what breaks if you revoke it.">
        {(p) => <input {...p} data-testid="create-apikey-name" autoComplete="off" data-autofocus />}
      </FormField>
      <FormField form={form} name="role" label="Role" hint="A key can have at most your own role.">
        {(p) => (
          <select {...p} data-testid="create-apikey-role">
            {roles.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABEL[r]} — {ROLE_HELP[r]}
              </option>
            ))}
          </select>
        )}
      </FormField>
      <FormField form={form} name="expires_in_days" label="Expires after">
        {(p) => (
          <select {...p} value={form.values.expiry} onChange={(e) => form.setValue('expiry', e.target.value)} data-testid="create-apikey-expiry">
            {EXPIRY_CHOICES.map((c) => (
              <option key={c.label} value={c.days === null ? 'never' : String(c.days)}>
                {c.label}
              </option>
            ))}
          </select>
        )}
      </FormField>
      <FormError form={form} />
    </Dialog>
  );
}

function Expiry({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">never</span>;
  const t = parseTime(value);
  if (t !== null && t < Date.now()) return <Badge tone="bad">expired</Badge>;
  return <RelativeTime value={value} />;
}

export default function ApiKeysPage() {
  const table = useTableParams();
  const keys = useApiKeys(pageQuery(table.params));
  const qc = useQueryClient();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  const columns: Column<ApiKey>[] = [
    { key: 'name', header: 'Name', sortValue: (k) => k.name, cell: (k) => <strong>{k.name}</strong> },
    { key: 'prefix', header: 'Key', cell: (k) => <code className="mono-cell">{k.prefix}…</code> },
    { key: 'role', header: 'Role', sortValue: (k) => k.role, cell: (k) => <RoleBadge role={k.role} /> },
    { key: 'created', header: 'Created', sortValue: (k) => k.created_at, cell: (k) => <RelativeTime value={k.created_at} /> },
    { key: 'last_used', header: 'Last used', sortValue: (k) => k.last_used_at, cell: (k) => <RelativeTime value={k.last_used_at} fallback="never" /> },
    { key: 'expires', header: 'Expires', sortValue: (k) => k.expires_at, cell: (k) => <Expiry value={k.expires_at} /> },
  ];
  // Everyone manages their own keys.
  const actions: RowAction<ApiKey>[] = [
    { label: (k) => `Revoke ${k.name}`, role: 'viewer', text: () => 'Revoke', danger: true, testId: 'apikey-revoke', onClick: setRevoking },
  ];
  const body = (
    <ResourceTable
      query={keys}
      state={table}
      columns={columns}
      rowKey={(k) => k.id}
      rowProps={(k) => ({ 'data-testid': 'apikey-row', 'data-name': k.name })}
      actions={actions}
      empty={{
        icon: 'key',
        title: 'No API keys yet',
        body: <p>API keys let scripts, CI and other tools call the ContextBay API as you, with a role up to your own.</p>,
        action: (
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            <Icon name="plus" size={16} /> Create API key
          </button>
        ),
      }}
      noun="keys"
      testId="apikeys-table"
    />
  );

  return (
    <div className="page" data-testid="page-apikeys">
      <PageHeader
        title="API keys"
        description={
          <>
            Your personal keys for scripts and integrations. Send one as the <code>X-API-Key</code> header.
          </>
        }
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)} data-testid="create-apikey">
            <Icon name="plus" size={16} /> Create API key
          </button>
        }
      />
      {body}
      {creating ? <CreateKeyDialog onClose={() => setCreating(false)} /> : null}
      {revoking ? (
        <ConfirmDialog
          title="Revoke API key"
          danger
          confirmLabel="Revoke key"
          testId="revoke-apikey-dialog"
          message={
            <p>
              Revoke <strong>{revoking.name}</strong> (<code>{revoking.prefix}…</code>)? Anything using it gets 401 from now on.
            </p>
          }
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api.del(`/api/keys/${encodeURIComponent(revoking.id)}`);
            qc.setQueriesData<Page<ApiKey>>({ queryKey: qk.apiKeys }, (old) =>
              old && old.items.some((x) => x.id === revoking.id)
                ? { ...old, items: old.items.filter((x) => x.id !== revoking.id), total: Math.max(0, old.total - 1) }
                : old,
            );
            toast.success(`API key ${revoking.name} revoked`);
          }}
        />
      ) : null}
    </div>
  );
}
