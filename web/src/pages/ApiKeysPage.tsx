import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { api } from '../api/client';
import { useApiKeys } from '../api/hooks';
import { qk } from '../api/keys';
import type { ApiKey, CreatedApiKey, ItemList, Role } from '../api/types';
import { useCurrentUser } from '../auth/session';
import { ConfirmDialog, Dialog } from '../components/Dialog';
import { Icon } from '../components/Icon';
import { useToast } from '../components/Toaster';
import { CopyButton, EmptyState, ErrorState, Field, InlineError, Loading, PageHeader, RelativeTime, RoleBadge, Badge } from '../components/ui';
import { parseTime } from '../lib/format';
import { ROLE_HELP, ROLE_LABEL, rolesUpTo } from '../lib/roles';

const EXPIRY_CHOICES: { label: string; days: number | null }[] = [
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: '1 year', days: 365 },
  { label: '7 days', days: 7 },
  { label: 'Never', days: null },
];

function CreateKeyDialog({ onClose }: { onClose: () => void }) {
  const me = useCurrentUser();
  const qc = useQueryClient();
  const roles = rolesUpTo(me.role);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>(roles[roles.length - 1] ?? 'viewer');
  const [expiry, setExpiry] = useState<string>('30');
  const [touched, setTouched] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);

  const create = useMutation({
    mutationFn: () => {
      const body: { name: string; role: Role; expires_in_days?: number } = { name: name.trim(), role };
      if (expiry !== 'never') body.expires_in_days = Number(expiry);
      return api.post<CreatedApiKey>('/api/keys', body);
    },
    onSuccess: (k) => {
      setCreated(k);
      // Never keep the secret in the cache: store the key without it.
      const { key: _secret, ...listed } = k;
      qc.setQueryData<ItemList<ApiKey>>(qk.apiKeys, (old) =>
        old && !old.items.some((x) => x.id === listed.id) ? { ...old, items: [listed, ...old.items] } : old,
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

  const nameError = touched && !name.trim() ? 'Give the key a name, e.g. “ci-deploy”.' : null;

  return (
    <Dialog
      title="Create API key"
      onClose={onClose}
      busy={create.isPending}
      testId="create-apikey-dialog"
      onSubmit={() => {
        setTouched(true);
        if (name.trim()) create.mutate();
      }}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={create.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={create.isPending} data-testid="create-apikey-submit">
            {create.isPending ? 'Creating…' : 'Create key'}
          </button>
        </>
      }
    >
      <Field label="Name" htmlFor="ak-name" error={nameError} hint="What uses this key, so you know what breaks if you revoke it.">
        <input id="ak-name" value={name} onChange={(e) => setName(e.target.value)} data-testid="create-apikey-name" autoComplete="off" data-autofocus />
      </Field>
      <Field label="Role" htmlFor="ak-role" hint="A key can have at most your own role.">
        <select id="ak-role" value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="create-apikey-role">
          {roles.map((r) => (
            <option key={r} value={r}>
              {ROLE_LABEL[r]} — {ROLE_HELP[r]}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Expires after" htmlFor="ak-expiry">
        <select id="ak-expiry" value={expiry} onChange={(e) => setExpiry(e.target.value)} data-testid="create-apikey-expiry">
          {EXPIRY_CHOICES.map((c) => (
            <option key={c.label} value={c.days === null ? 'never' : String(c.days)}>
              {c.label}
            </option>
          ))}
        </select>
      </Field>
      <InlineError error={create.error} />
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
  const keys = useApiKeys();
  const qc = useQueryClient();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  let body: ReactNode;
  if (keys.isPending) body = <Loading />;
  else if (keys.isError) body = <ErrorState error={keys.error} onRetry={() => void keys.refetch()} />;
  else if (keys.data.items.length === 0)
    body = (
      <EmptyState
        icon="key"
        title="No API keys yet"
        testId="apikeys-empty"
        action={
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            <Icon name="plus" size={16} /> Create API key
          </button>
        }
      >
        <p>API keys let scripts, CI and other tools call the ContextBay API as you, with a role up to your own.</p>
      </EmptyState>
    );
  else
    body = (
      <div className="table-wrap">
        <table className="table" data-testid="apikeys-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col" className="actions-col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.items.map((k) => (
              <tr key={k.id} data-testid="apikey-row" data-name={k.name}>
                <td>
                  <strong>{k.name}</strong>
                </td>
                <td>
                  <code className="mono-cell">{k.prefix}…</code>
                </td>
                <td>
                  <RoleBadge role={k.role} />
                </td>
                <td>
                  <RelativeTime value={k.created_at} />
                </td>
                <td>
                  <RelativeTime value={k.last_used_at ?? null} fallback="never" />
                </td>
                <td>
                  <Expiry value={k.expires_at} />
                </td>
                <td className="actions-col">
                  <button type="button" className="btn btn-sm btn-danger-ghost" onClick={() => setRevoking(k)} data-testid="apikey-revoke">
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
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
            qc.setQueryData<ItemList<ApiKey>>(qk.apiKeys, (old) =>
              old ? { ...old, items: old.items.filter((x) => x.id !== revoking.id) } : old,
            );
            toast.success(`API key ${revoking.name} revoked`);
          }}
        />
      ) : null}
    </div>
  );
}
