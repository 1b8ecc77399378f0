// MCP servers: register (stdio: a command the master runs; HTTP: a streamable endpoint), edit,
// probe and remove them; their tools, each with a test-fire form whose JSON arguments are checked
// against the tool's input schema before they are sent.

import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useCan } from '../../auth/session';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { FormError, FormField, useForm } from '../../components/Form';
import { Icon } from '../../components/Icon';
import { ResourceTable, useTableParams, type Column } from '../../components/ResourceTable';
import { useToast } from '../../components/Toaster';
import { Badge, InlineError, PageHeader, Switch } from '../../components/ui';
import { JsonBlock } from '../../components/data';
import { aiKeys, aiRequests, useMcpServers, useMcpTools } from './api';
import { argumentsTemplate, contentText, MASK, parseArguments, serverBody, serverForm, type McpServer, type McpTool, type ServerForm } from './ai';
import './ai.css';

function ServerEditor({ server, onClose }: { server: McpServer | null; onClose: () => void }) {
  const toast = useToast();
  const qc = useQueryClient();
  // A stdio server is a command the master runs: administrators only.
  const isAdmin = useCan('admin');
  const form = useForm<ServerForm>({
    initial: { ...serverForm(server), ...(server || isAdmin ? {} : { transport: 'http' as const }) },
    validate: (v) => serverBody(v).errors,
    onSubmit: (v) => {
      const { body } = serverBody(v);
      if (!body) throw new Error('the form has errors');
      return server ? aiRequests.updateServer(server.id, body) : aiRequests.createServer(body);
    },
    onSuccess: (saved) => {
      toast.success(`MCP server ${(saved as McpServer).name} ${server ? 'saved' : 'registered'}`);
      void qc.invalidateQueries({ queryKey: aiKeys.all });
      onClose();
    },
  });
  const stdio = form.values.transport === 'stdio';
  return (
    <Dialog
      title={server ? `Edit MCP server ${server.name}` : 'Register an MCP server'}
      onClose={onClose}
      onSubmit={(e) => void form.handleSubmit(e)}
      busy={form.submitting}
      size="lg"
      testId="mcp-server-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="mcp-server-submit">
            {form.submitting ? 'Connecting…' : server ? 'Save' : 'Register'}
          </button>
        </>
      }
    >
      <FormError form={form} />
      <div className="form-row">
        <FormField form={form} name="name" label="Name" hint="Its tools are called <name>__<tool>.">
          {(p) => <input {...p} data-testid="mcp-server-name" data-autofocus />}
        </FormField>
        <FormField form={form} name="transport" label="Transport">
          {(p) => (
            <select {...p} data-testid="mcp-server-transport">
              <option value="stdio" disabled={!isAdmin}>
                stdio (a command the master runs{isAdmin ? '' : '; administrators only'})
              </option>
              <option value="http">streamable HTTP</option>
            </select>
          )}
        </FormField>
      </div>
      {stdio ? (
        <>
          <FormField form={form} name="command" label="Command" hint="An absolute path, or a name on the master's PATH.">
            {(p) => <input {...p} className="mono" spellCheck={false} data-testid="mcp-server-command" />}
          </FormField>
          <FormField form={form} name="args" label="Arguments" hint="As on a command line; quotes group words.">
            {(p) => <input {...p} className="mono" spellCheck={false} data-testid="mcp-server-args" />}
          </FormField>
          <FormField form={form} name="env" label="Environment" hint={`One KEY=value per line; stored sealed, shown as ${MASK} (kept as stored when left so).`}>
            {(p) => <textarea {...p} className="mono" rows={2} data-testid="mcp-server-env" />}
          </FormField>
        </>
      ) : (
        <>
          <FormField form={form} name="url" label="URL">
            {(p) => <input {...p} className="mono" spellCheck={false} placeholder="https://host/mcp" data-testid="mcp-server-url" />}
          </FormField>
          <FormField form={form} name="headers" label="Headers" hint={`One Name: value per line (e.g. Authorization); stored sealed, shown as ${MASK}.`}>
            {(p) => <textarea {...p} className="mono" rows={2} data-testid="mcp-server-headers" />}
          </FormField>
        </>
      )}
      <div className="switch-row">
        <Switch checked={form.values.enabled} onChange={(v) => form.setValue('enabled', v)} label="Offer its tools" testId="mcp-server-enabled" disabled={form.submitting} />
        <span>Offer its tools to models</span>
      </div>
    </Dialog>
  );
}

type TestAnswer = Awaited<ReturnType<typeof aiRequests.testTool>>;

function TestFire({ tool, onClose }: { tool: McpTool; onClose: () => void }) {
  const [result, setResult] = useState<TestAnswer | null>(null);
  const form = useForm({
    initial: { arguments: argumentsTemplate(tool.input_schema) },
    validate: (v) => ({ arguments: parseArguments(v.arguments, tool.input_schema).error ?? undefined }),
    onSubmit: (v) => aiRequests.testTool(tool.name, parseArguments(v.arguments, tool.input_schema).value ?? {}),
    onSuccess: (r) => setResult(r as TestAnswer),
  });
  return (
    <Dialog
      title={`Test-fire ${tool.name}`}
      onClose={onClose}
      onSubmit={(e) => {
        setResult(null);
        void form.handleSubmit(e);
      }}
      busy={form.submitting}
      size="lg"
      testId="mcp-test-dialog"
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} disabled={form.submitting}>
            Close
          </button>
          <button type="submit" className="btn btn-primary" disabled={form.submitting} data-testid="mcp-test-submit">
            {form.submitting ? 'Calling…' : 'Call the tool'}
          </button>
        </>
      }
    >
      {tool.description ? <p className="muted">{tool.description}</p> : null}
      <details>
        <summary>Input schema</summary>
        <JsonBlock value={tool.input_schema} maxHeight={200} />
      </details>
      <FormError form={form} />
      <FormField form={form} name="arguments" label="Arguments (JSON)">
        {(p) => <textarea {...p} className="mono" rows={6} spellCheck={false} data-testid="mcp-test-arguments" data-autofocus />}
      </FormField>
      {result ? (
        <div data-testid="mcp-test-result" data-error={String(result.is_error)}>
          <p>
            {result.is_error ? <Badge tone="bad">the tool reported an error</Badge> : <Badge tone="ok">ok</Badge>} <span className="muted small">{result.latency_ms} ms</span>
          </p>
          <pre className="log-view">{contentText(result.content)}</pre>
          {result.structured_content ? <JsonBlock value={result.structured_content} maxHeight={200} /> : null}
        </div>
      ) : null}
    </Dialog>
  );
}

export default function McpPage() {
  const canOperate = useCan('operator');
  const toast = useToast();
  const qc = useQueryClient();
  const serverState = useTableParams();
  const toolState = useTableParams(['tq']);
  const servers = useMcpServers();
  const tools = useMcpTools();
  const [editing, setEditing] = useState<McpServer | 'new' | null>(null);
  const [deleting, setDeleting] = useState<McpServer | null>(null);
  const [firing, setFiring] = useState<McpTool | null>(null);
  const [probes, setProbes] = useState<Record<string, Awaited<ReturnType<typeof aiRequests.probeServer>> | 'probing' | { failed: unknown }>>({});

  const probe = async (s: McpServer) => {
    setProbes((p) => ({ ...p, [s.id]: 'probing' }));
    try {
      const h = await aiRequests.probeServer(s.id);
      setProbes((p) => ({ ...p, [s.id]: h }));
      // A server that answers now may have tools the last listing could not get.
      if (h.reachable) void qc.invalidateQueries({ queryKey: aiKeys.tools });
    } catch (e) {
      setProbes((p) => ({ ...p, [s.id]: { failed: e } }));
    }
  };

  const serverColumns: Column<McpServer>[] = [
    {
      key: 'name',
      header: 'Server',
      sortValue: (s) => s.name,
      cell: (s) => (
        <>
          <strong>{s.name}</strong> {s.enabled ? null : <Badge tone="neutral">disabled</Badge>}
        </>
      ),
    },
    { key: 'transport', header: 'Transport', cell: (s) => s.transport },
    { key: 'target', header: 'Runs / reaches', cell: (s) => <code className="mono-cell">{s.transport === 'stdio' ? [s.command, ...s.args].join(' ') : s.url}</code> },
    {
      key: 'health',
      header: 'Health',
      cell: (s) => {
        const h = probes[s.id];
        if (!h) return <span className="muted">not probed</span>;
        if (h === 'probing') return <span className="muted">probing…</span>;
        if ('failed' in h) return <InlineError error={h.failed} />;
        return (
          <span data-testid="mcp-server-health" data-reachable={String(h.reachable)}>
            <Badge tone={h.reachable ? 'ok' : 'bad'} dot>
              {h.reachable ? 'reachable' : 'unreachable'}
            </Badge>{' '}
            <span className="muted small">
              {h.reachable ? `${h.server_name ?? '?'} ${h.server_version ?? ''} · ${h.tool_count ?? 0} tools · ` : `${h.error ?? ''} · `}
              {h.latency_ms} ms
            </span>
          </span>
        );
      },
    },
  ];

  const toolColumns: Column<McpTool>[] = [
    { key: 'name', header: 'Tool', sortValue: (t) => t.name, cell: (t) => <code>{t.name}</code> },
    { key: 'server', header: 'Server', cell: (t) => t.server },
    { key: 'description', header: 'Description', cell: (t) => <span className="small">{t.title ? `${t.title}: ` : ''}{t.description ?? ''}</span> },
  ];

  return (
    <div className="page" data-testid="page-ai-mcp">
      <PageHeader
        title="MCP servers"
        description="Model Context Protocol servers whose tools models may call (as the mode allows)."
        actions={
          canOperate ? (
            <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} data-testid="mcp-server-new">
              <Icon name="plus" size={16} /> Register server
            </button>
          ) : null
        }
      />
      <ResourceTable
        query={servers}
        state={serverState}
        columns={serverColumns}
        rowKey={(s) => s.id}
        rowProps={(s) => ({ 'data-testid': 'mcp-server-row', 'data-name': s.name })}
        actions={[
          { label: (s) => `Probe ${s.name}`, icon: 'activity', role: 'viewer', testId: 'mcp-server-probe', onClick: (s) => void probe(s) },
          { label: (s) => `Edit ${s.name}`, icon: 'edit', testId: 'mcp-server-edit', onClick: setEditing },
          { label: (s) => `Remove ${s.name}`, icon: 'trash', danger: true, testId: 'mcp-server-delete', onClick: setDeleting },
        ]}
        empty={{ icon: 'plug', title: 'No MCP servers', body: <p>Register one to offer its tools to models.</p> }}
        noun="servers"
        testId="mcp-servers-table"
      />
      <h2 className="mcp-tools-title">Tools</h2>
      <ResourceTable
        query={tools}
        state={toolState}
        columns={toolColumns}
        rowKey={(t) => t.name}
        rowProps={(t) => ({ 'data-testid': 'mcp-tool-row', 'data-name': t.name })}
        actions={[{ label: (t) => `Test-fire ${t.name}`, icon: 'zap', testId: 'mcp-tool-test', onClick: setFiring }]}
        filter={{ label: 'Filter tools', placeholder: 'Tool or server…', text: (t) => `${t.name} ${t.description ?? ''}`, param: 'tq' }}
        empty={{ icon: 'zap', title: 'No tools', body: <p>The tools of the enabled servers appear here.</p> }}
        noun="tools"
        testId="mcp-tools-table"
      />
      {editing ? <ServerEditor server={editing === 'new' ? null : editing} onClose={() => setEditing(null)} /> : null}
      {firing ? <TestFire tool={firing} onClose={() => setFiring(null)} /> : null}
      {deleting ? (
        <ConfirmDialog
          title="Remove MCP server"
          danger
          confirmLabel="Remove"
          testId="mcp-server-delete-dialog"
          message={
            <p>
              Remove <strong>{deleting.name}</strong>? Its tools are no longer offered.
            </p>
          }
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await aiRequests.deleteServer(deleting.id);
            toast.success(`MCP server ${deleting.name} removed`);
            await qc.invalidateQueries({ queryKey: aiKeys.all });
          }}
        />
      ) : null}
    </div>
  );
}
