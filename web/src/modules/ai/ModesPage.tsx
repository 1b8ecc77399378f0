// Agent modes: what happens when a model calls a tool (run, ask for approval, refuse), per class
// (read / write) and per tool. The built-in modes are read-only; operators create, edit and
// delete custom ones.

import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useCan } from '../../auth/session';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { FormError, FormField, useForm } from '../../components/Form';
import { Icon } from '../../components/Icon';
import { ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Badge, PageHeader, type Tone } from '../../components/ui';
import { aiKeys, aiRequests, useMcpTools, useModes } from './api';
import { MODE_ACTIONS, modeBody, modeForm, type Mode, type ModeForm } from './ai';
import './ai.css';

const ACTION_TONE: Record<string, Tone> = { run: 'ok', ask: 'warn', refuse: 'bad' };

function ModeEditor({ mode, onClose }: { mode: Mode | null; onClose: () => void }) {
  const toast = useToast();
  const qc = useQueryClient();
  const tools = useMcpTools();
  const form = useForm<ModeForm>({
    initial: modeForm(mode),
    validate: (v) => modeBody(v).errors,
    onSubmit: (v) => {
      const { body } = modeBody(v);
      if (!body) throw new Error('the form has errors');
      return mode ? aiRequests.updateMode(mode.id, body) : aiRequests.createMode(body);
    },
    onSuccess: (saved) => {
      toast.success(`Mode ${(saved as Mode).name} ${mode ? 'saved' : 'created'}`);
      void qc.invalidateQueries({ queryKey: aiKeys.modes });
      onClose();
    },
  });
  const select = (name: 'read' | 'write', label: string) => (
    <FormField form={form} name={name} label={label}>
      {(p) => (
        <select {...p} data-testid={`mode-${name}`}>
          {MODE_ACTIONS.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      )}
    </FormField>
  );
  return (
    <Dialog
      title={mode ? `Edit mode ${mode.name}` : 'New agent mode'}
      onClose={onClose}
      onSubmit={(e) => void form.handleSubmit(e)}
      busy={form.submitting}
      testId="mode-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="mode-submit">
            {mode ? 'Save' : 'Create mode'}
          </button>
        </>
      }
    >
      <FormError form={form} />
      <FormField form={form} name="name" label="Name">
        {(p) => <input {...p} data-testid="mode-name" data-autofocus />}
      </FormField>
      <FormField form={form} name="description" label="Description">
        {(p) => <input {...p} data-testid="mode-description" />}
      </FormField>
      <div className="form-row">
        {select('read', 'Tools that read')}
        {select('write', 'Tools that change the fleet')}
      </div>
      <FormField
        form={form}
        name="tools"
        label="Per-tool actions"
        hint={
          <>
            One <code>tool=run|ask|refuse</code> per line, overriding the class.
            {tools.data?.items.length ? ` MCP tools: ${tools.data.items.map((t) => t.name).join(', ')}.` : ''}
          </>
        }
      >
        {(p) => <textarea {...p} className="mono" rows={4} spellCheck={false} data-testid="mode-tools" />}
      </FormField>
    </Dialog>
  );
}

const COLUMNS: Column<Mode>[] = [
  {
    key: 'name',
    header: 'Mode',
    sortValue: (m) => m.name,
    cell: (m) => (
      <>
        <strong>{m.name}</strong> {m.builtin ? <Badge tone="info">built-in</Badge> : null}
        {m.description ? <div className="muted small">{m.description}</div> : null}
      </>
    ),
  },
  { key: 'read', header: 'Read tools', cell: (m) => <Badge tone={ACTION_TONE[m.read]}>{m.read}</Badge> },
  { key: 'write', header: 'Write tools', cell: (m) => <Badge tone={ACTION_TONE[m.write]}>{m.write}</Badge> },
  {
    key: 'tools',
    header: 'Per tool',
    cell: (m) =>
      Object.keys(m.tools).length === 0 ? (
        <span className="muted">—</span>
      ) : (
        <span className="small">
          {Object.entries(m.tools)
            .map(([t, a]) => `${t}: ${a}`)
            .join(', ')}
        </span>
      ),
  },
];

export default function ModesPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const qc = useQueryClient();
  const state = useTableParams();
  const list = useModes();
  const [editing, setEditing] = useState<Mode | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Mode | null>(null);
  return (
    <div className="page" data-testid="page-ai-modes">
      <PageHeader
        title="Agent modes"
        description="What happens when a model calls a tool: run it, ask a person first, or refuse."
        actions={
          canOperate ? (
            <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} data-testid="mode-new">
              <Icon name="plus" size={16} /> New mode
            </button>
          ) : null
        }
      />
      <ResourceTable
        query={list}
        state={state}
        columns={COLUMNS}
        rowKey={(m) => m.id}
        rowProps={(m) => ({ 'data-testid': 'mode-row', 'data-name': m.name, 'data-builtin': String(m.builtin) })}
        actions={[
          { label: (m) => `Edit mode ${m.name}`, icon: 'edit', testId: 'mode-edit', hidden: (m) => m.builtin, onClick: setEditing },
          { label: (m) => `Delete mode ${m.name}`, icon: 'trash', danger: true, testId: 'mode-delete', hidden: (m) => m.builtin, onClick: setDeleting },
        ]}
        empty={{ icon: 'shield', title: 'No modes' }}
        noun="modes"
        testId="modes-table"
      />
      {editing ? <ModeEditor mode={editing === 'new' ? null : editing} onClose={() => setEditing(null)} /> : null}
      {deleting ? (
        <ConfirmDialog
          title="Delete agent mode"
          danger
          confirmLabel="Delete mode"
          testId="mode-delete-dialog"
          message={
            <p>
              Delete the mode <strong>{deleting.name}</strong>?
            </p>
          }
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await aiRequests.deleteMode(deleting.id);
            toast.success(`Mode ${deleting.name} deleted`);
            await qc.invalidateQueries({ queryKey: aiKeys.modes });
          }}
        />
      ) : null}
    </div>
  );
}
