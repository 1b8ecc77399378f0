import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { api } from '../../api/client';
import { useUserList } from '../../api/hooks';
import { qk } from '../../api/keys';
import type { Page, Role, User } from '../../api/types';
import { useCurrentUser } from '../../auth/session';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { Icon } from '../../components/Icon';
import { useToast } from '../../components/Toaster';
import { Badge, EmptyState, ErrorState, Field, InlineError, Loading, PageHeader, Pagination, RelativeTime, RoleBadge } from '../../components/ui';
import { ROLE_HELP, ROLE_LABEL, ROLES } from '../../lib/roles';
import { MIN_PASSWORD } from '../../lib/validation';

const LIMIT = 50;

function RoleSelect({ id, value, onChange, testId }: { id: string; value: Role; onChange: (r: Role) => void; testId?: string }) {
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value as Role)} data-testid={testId}>
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {ROLE_LABEL[r]} — {ROLE_HELP[r]}
        </option>
      ))}
    </select>
  );
}

function CreateUserDialog({ onClose }: { onClose: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [touched, setTouched] = useState(false);

  const create = useMutation({
    mutationFn: () => api.post<User>('/api/users', { username: username.trim(), password, role }),
    onSuccess: (u) => {
      void qc.invalidateQueries({ queryKey: qk.userLists });
      toast.success(`User ${u.username} created`);
      onClose();
    },
  });

  const usernameError = touched && !username.trim() ? 'Enter a username.' : null;
  const passwordError = touched && password.length < MIN_PASSWORD ? `At least ${MIN_PASSWORD} characters.` : null;

  return (
    <Dialog
      title="Create user"
      onClose={onClose}
      busy={create.isPending}
      testId="create-user-dialog"
      onSubmit={() => {
        setTouched(true);
        if (username.trim() && password.length >= MIN_PASSWORD) create.mutate();
      }}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={create.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={create.isPending} data-testid="create-user-submit">
            {create.isPending ? 'Creating…' : 'Create user'}
          </button>
        </>
      }
    >
      <Field label="Username" htmlFor="cu-username" error={usernameError}>
        <input
          id="cu-username"
          data-testid="create-user-username"
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          data-autofocus
        />
      </Field>
      <Field label="Initial password" htmlFor="cu-password" error={passwordError} hint={`At least ${MIN_PASSWORD} characters; share it securely.`}>
        <input
          id="cu-password"
          data-testid="create-user-password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </Field>
      <Field label="Role" htmlFor="cu-role">
        <RoleSelect id="cu-role" value={role} onChange={setRole} testId="create-user-role" />
      </Field>
      <InlineError error={create.error} />
    </Dialog>
  );
}

function EditUserDialog({ user, isSelf, onClose }: { user: User; isSelf: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [role, setRole] = useState<Role>(user.role);
  const [disabled, setDisabled] = useState(user.disabled);
  const [password, setPassword] = useState('');

  const passwordError = password && password.length < MIN_PASSWORD ? `At least ${MIN_PASSWORD} characters.` : null;

  const save = useMutation({
    mutationFn: () => {
      const body: Partial<{ role: Role; disabled: boolean; password: string }> = {};
      if (role !== user.role) body.role = role;
      if (disabled !== user.disabled) body.disabled = disabled;
      if (password) body.password = password;
      return api.put<User>(`/api/users/${encodeURIComponent(user.id)}`, body);
    },
    onSuccess: (u) => {
      updateUserInLists(qc, u);
      toast.success(`User ${u.username} updated`);
      onClose();
    },
  });

  const unchanged = role === user.role && disabled === user.disabled && !password;

  return (
    <Dialog
      title={`Edit ${user.username}`}
      onClose={onClose}
      busy={save.isPending}
      testId="edit-user-dialog"
      onSubmit={() => {
        if (!passwordError && !unchanged) save.mutate();
      }}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={save.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={save.isPending || unchanged || !!passwordError} data-testid="edit-user-submit">
            {save.isPending ? 'Saving…' : 'Save changes'}
          </button>
        </>
      }
    >
      <Field label="Role" htmlFor="eu-role" hint={isSelf ? 'You cannot change your own role.' : undefined}>
        <select id="eu-role" value={role} onChange={(e) => setRole(e.target.value as Role)} disabled={isSelf} data-testid="edit-user-role" data-autofocus>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {ROLE_LABEL[r]} — {ROLE_HELP[r]}
            </option>
          ))}
        </select>
      </Field>
      <div className="field">
        <label className="checkbox">
          <input type="checkbox" checked={disabled} onChange={(e) => setDisabled(e.target.checked)} disabled={isSelf} data-testid="edit-user-disabled" />
          <span>
            Disabled <span className="muted">— the user cannot sign in and their sessions and keys stop working</span>
          </span>
        </label>
      </div>
      <Field label="New password" htmlFor="eu-password" error={passwordError} hint="Leave empty to keep the current password.">
        <input id="eu-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="edit-user-password" />
      </Field>
      <InlineError error={save.error} />
    </Dialog>
  );
}

function updateUserInLists(qc: ReturnType<typeof useQueryClient>, u: User) {
  qc.setQueriesData<Page<User>>({ queryKey: qk.userLists }, (old) =>
    old ? { ...old, items: old.items.map((x) => (x.id === u.id ? u : x)) } : old,
  );
}

export default function UsersPage() {
  const me = useCurrentUser();
  const qc = useQueryClient();
  const toast = useToast();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const offset = Math.max(0, Number(params.get('offset') ?? 0) || 0);
  const [search, setSearch] = useState(q);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<User | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);

  // Debounce the search box into the URL.
  useEffect(() => {
    if (search === q) return;
    const t = window.setTimeout(() => {
      setParams(
        (p) => {
          const n = new URLSearchParams(p);
          if (search) n.set('q', search);
          else n.delete('q');
          n.delete('offset');
          return n;
        },
        { replace: true },
      );
    }, 250);
    return () => window.clearTimeout(t);
  }, [search, q, setParams]);

  const list = useUserList({ limit: LIMIT, offset, q });

  const toggleDisabled = useMutation({
    mutationFn: (u: User) => api.put<User>(`/api/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabled }),
    onSuccess: (u) => {
      updateUserInLists(qc, u);
      toast.success(`User ${u.username} ${u.disabled ? 'disabled' : 'enabled'}`);
    },
    onError: (e) => toast.error('Could not update the user', e instanceof Error ? e.message : String(e)),
  });

  const setOffset = (o: number) =>
    setParams((p) => {
      const n = new URLSearchParams(p);
      if (o > 0) n.set('offset', String(o));
      else n.delete('offset');
      return n;
    });

  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.items.length === 0)
    body = q ? (
      <EmptyState icon="search" title="No matching users">
        <p>Nobody matches “{q}”.</p>
      </EmptyState>
    ) : (
      <EmptyState icon="users" title="No users yet" />
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table className="table" data-testid="users-table">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">Created</th>
                <th scope="col" className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((u) => {
                const isSelf = u.id === me.id;
                return (
                  <tr key={u.id} data-testid="user-row" data-username={u.username}>
                    <td>
                      <strong>{u.username}</strong>
                      {isSelf ? <span className="muted small"> (you)</span> : null}
                    </td>
                    <td>
                      <RoleBadge role={u.role} />
                    </td>
                    <td>{u.disabled ? <Badge tone="bad" dot>Disabled</Badge> : <Badge tone="ok" dot>Active</Badge>}</td>
                    <td>
                      <RelativeTime value={u.last_login_at} fallback="never" />
                    </td>
                    <td>
                      <RelativeTime value={u.created_at} />
                    </td>
                    <td className="actions-col">
                      <div className="row-actions">
                        <button type="button" className="btn btn-sm" onClick={() => setEditing(u)} data-testid="user-edit" aria-label={`Edit ${u.username}`}>
                          <Icon name="edit" size={16} /> Edit
                        </button>
                        {!isSelf ? (
                          <>
                            <button
                              type="button"
                              className="btn btn-sm"
                              onClick={() => toggleDisabled.mutate(u)}
                              disabled={toggleDisabled.isPending && toggleDisabled.variables?.id === u.id}
                              data-testid="user-toggle-disabled"
                            >
                              {u.disabled ? 'Enable' : 'Disable'}
                            </button>
                            <button
                              type="button"
                              className="btn btn-sm btn-danger-ghost"
                              onClick={() => setDeleting(u)}
                              data-testid="user-delete"
                              aria-label={`Delete ${u.username}`}
                            >
                              <Icon name="trash" size={16} />
                            </button>
                          </>
                        ) : null}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <Pagination offset={offset} limit={LIMIT} total={list.data.total} onChange={setOffset} />
      </>
    );

  return (
    <div className="page" data-testid="page-users">
      <PageHeader
        title="Users"
        description="People who can sign in to this control plane, and what they may do."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)} data-testid="create-user">
            <Icon name="plus" size={16} /> Create user
          </button>
        }
      />
      <div className="toolbar">
        <div className="search">
          <Icon name="search" size={16} />
          <input
            type="search"
            placeholder="Search users…"
            aria-label="Search users"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            data-testid="users-search"
          />
        </div>
        {list.data ? <span className="muted small">{list.data.total.toLocaleString()} users</span> : null}
        {list.isFetching && !list.isPending ? <span className="spinner spinner-sm" aria-label="Refreshing" /> : null}
      </div>
      {body}
      {creating ? <CreateUserDialog onClose={() => setCreating(false)} /> : null}
      {editing ? <EditUserDialog user={editing} isSelf={editing.id === me.id} onClose={() => setEditing(null)} /> : null}
      {deleting ? (
        <ConfirmDialog
          title="Delete user"
          danger
          confirmLabel="Delete user"
          testId="delete-user-dialog"
          message={
            <p>
              Delete <strong>{deleting.username}</strong>? Their sessions and API keys stop working at once. This cannot be undone.
            </p>
          }
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.del(`/api/users/${encodeURIComponent(deleting.id)}`);
            qc.setQueriesData<Page<User>>({ queryKey: qk.userLists }, (old) =>
              old ? { ...old, items: old.items.filter((x) => x.id !== deleting.id), total: Math.max(0, old.total - 1) } : old,
            );
            void qc.invalidateQueries({ queryKey: qk.userLists });
            toast.success(`User ${deleting.username} deleted`);
          }}
        />
      ) : null}
    </div>
  );
}
