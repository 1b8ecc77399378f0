import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import { useUserList } from '../../api/hooks';
import { qk } from '../../api/keys';
import type { Page, Role, User } from '../../api/types';
import { useCurrentUser } from '../../auth/session';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { FormError, FormField, useForm } from '../../components/Form';
import { Icon } from '../../components/Icon';
import { pageQuery, ResourceTable, useTableParams, type Column, type RowAction } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Badge, PageHeader, RelativeTime, RoleBadge } from '../../components/ui';
import { ROLE_HELP, ROLE_LABEL, ROLES } from '../../lib/roles';
import { MIN_PASSWORD } from '../../lib/validation';

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

interface NewUser {
  username: string;
  password: string;
  role: Role;
}

function CreateUserDialog({ onClose }: { onClose: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const form = useForm<NewUser>({
    initial: { username: '', password: '', role: 'viewer' },
    validate: (v) => ({
      ...(v.username.trim() ? {} : { username: 'Enter a username.' }),
      ...(v.password.length >= MIN_PASSWORD ? {} : { password: `At least ${MIN_PASSWORD} characters.` }),
    }),
    onSubmit: (v) => api.post<User>('/api/users', { username: v.username.trim(), password: v.password, role: v.role }),
    onSuccess: (u) => {
      void qc.invalidateQueries({ queryKey: qk.userLists });
      toast.success(`User ${(u as User).username} created`);
      onClose();
    },
  });

  return (
    <Dialog
      title="Create user"
      onClose={onClose}
      busy={form.submitting}
      testId="create-user-dialog"
      onSubmit={() => void form.handleSubmit()}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="create-user-submit">
            {form.submitting ? 'Creating…' : 'Create user'}
          </button>
        </>
      }
    >
      <FormField form={form} name="username" label="Username">
        {(p) => <input {...p} data-testid="create-user-username" autoComplete="off" autoCapitalize="none" spellCheck={false} data-autofocus />}
      </FormField>
      <FormField form={form} name="password" label="Initial password" hint={`At least ${MIN_PASSWORD} characters; share it securely.`}>
        {(p) => <input {...p} data-testid="create-user-password" type="password" autoComplete="new-password" />}
      </FormField>
      <FormField form={form} name="role" label="Role">
        {(p) => <RoleSelect id={p.id} value={form.values.role} onChange={(r) => form.setValue('role', r)} testId="create-user-role" />}
      </FormField>
      <FormError form={form} />
    </Dialog>
  );
}

interface UserEdit {
  role: Role;
  disabled: boolean;
  password: string;
}

function EditUserDialog({ user, isSelf, onClose }: { user: User; isSelf: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const form = useForm<UserEdit>({
    initial: { role: user.role, disabled: user.disabled, password: '' },
    liveValidation: true,
    validate: (v) => ({ password: v.password && v.password.length < MIN_PASSWORD ? `At least ${MIN_PASSWORD} characters.` : undefined }),
    onSubmit: (v) => {
      const body: Partial<{ role: Role; disabled: boolean; password: string }> = {};
      if (v.role !== user.role) body.role = v.role;
      if (v.disabled !== user.disabled) body.disabled = v.disabled;
      if (v.password) body.password = v.password;
      return api.put<User>(`/api/users/${encodeURIComponent(user.id)}`, body);
    },
    onSuccess: (result) => {
      const u = result as User;
      updateUserInLists(qc, u);
      toast.success(`User ${u.username} updated`);
      onClose();
    },
  });
  const v = form.values;
  const unchanged = v.role === user.role && v.disabled === user.disabled && !v.password;
  const passwordTooShort = Boolean(v.password) && v.password.length < MIN_PASSWORD;
  form.register('disabled');

  return (
    <Dialog
      title={`Edit ${user.username}`}
      onClose={onClose}
      busy={form.submitting}
      testId="edit-user-dialog"
      onSubmit={() => {
        if (!unchanged) void form.handleSubmit();
      }}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting || unchanged || passwordTooShort} data-testid="edit-user-submit">
            {form.submitting ? 'Saving…' : 'Save changes'}
          </button>
        </>
      }
    >
      <FormField form={form} name="role" label="Role" hint={isSelf ? 'You cannot change your own role.' : undefined}>
        {(p) => (
          <select {...p} disabled={isSelf || p.disabled} data-testid="edit-user-role" data-autofocus>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABEL[r]} — {ROLE_HELP[r]}
              </option>
            ))}
          </select>
        )}
      </FormField>
      <div className="field">
        <label className="checkbox">
          <input type="checkbox" checked={v.disabled} onChange={(e) => form.setValue('disabled', e.target.checked)} disabled={isSelf} data-testid="edit-user-disabled" />
          <span>
            Disabled <span className="muted">— the user cannot sign in and their sessions and keys stop working</span>
          </span>
        </label>
        {form.errorFor('disabled') ? <p className="field-error">{form.errorFor('disabled')}</p> : null}
      </div>
      <FormField form={form} name="password" label="New password" hint="Leave empty to keep the current password.">
        {(p) => <input {...p} type="password" autoComplete="new-password" data-testid="edit-user-password" />}
      </FormField>
      <FormError form={form} />
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
  const table = useTableParams();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<User | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);

  const list = useUserList({ ...pageQuery(table.params), q: table.params.q });

  const toggleDisabled = useMutation({
    mutationFn: (u: User) => api.put<User>(`/api/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabled }),
    onSuccess: (u) => {
      updateUserInLists(qc, u);
      toast.success(`User ${u.username} ${u.disabled ? 'disabled' : 'enabled'}`);
    },
    onError: (e) => toast.error('Could not update the user', e instanceof Error ? e.message : String(e)),
  });

  const columns: Column<User>[] = [
    {
      key: 'username',
      header: 'Username',
      sortValue: (u) => u.username,
      cell: (u) => (
        <>
          <strong>{u.username}</strong>
          {u.id === me.id ? <span className="muted small"> (you)</span> : null}
        </>
      ),
    },
    { key: 'role', header: 'Role', sortValue: (u) => ROLES.indexOf(u.role), cell: (u) => <RoleBadge role={u.role} /> },
    {
      key: 'status',
      header: 'Status',
      sortValue: (u) => u.disabled,
      cell: (u) => (u.disabled ? <Badge tone="bad" dot>Disabled</Badge> : <Badge tone="ok" dot>Active</Badge>),
    },
    { key: 'last_login', header: 'Last sign-in', sortValue: (u) => u.last_login_at, cell: (u) => <RelativeTime value={u.last_login_at} fallback="never" /> },
    { key: 'created', header: 'Created', sortValue: (u) => u.created_at, cell: (u) => <RelativeTime value={u.created_at} /> },
  ];
  const actions: RowAction<User>[] = [
    { label: (u) => `Edit ${u.username}`, role: 'admin', icon: 'edit', text: () => 'Edit', testId: 'user-edit', onClick: setEditing },
    {
      label: (u) => `${u.disabled ? 'Enable' : 'Disable'} ${u.username}`,
      role: 'admin',
      text: (u) => (u.disabled ? 'Enable' : 'Disable'),
      testId: 'user-toggle-disabled',
      hidden: (u) => u.id === me.id,
      disabled: (u) => toggleDisabled.isPending && toggleDisabled.variables?.id === u.id,
      onClick: (u) => toggleDisabled.mutate(u),
    },
    {
      label: (u) => `Delete ${u.username}`,
      role: 'admin',
      icon: 'trash',
      className: 'btn btn-sm btn-danger-ghost',
      title: 'Delete',
      testId: 'user-delete',
      hidden: (u) => u.id === me.id,
      onClick: setDeleting,
    },
  ];

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
      <ResourceTable
        query={list}
        state={table}
        columns={columns}
        rowKey={(u) => u.id}
        rowProps={(u) => ({ 'data-testid': 'user-row', 'data-username': u.username })}
        actions={actions}
        filter={{ label: 'Search users', placeholder: 'Search users…', testId: 'users-search' }}
        empty={{ icon: 'users', title: 'No users yet', filteredTitle: 'No matching users' }}
        noun="users"
        testId="users-table"
      />
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
