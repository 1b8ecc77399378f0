// The AI module's logic apart from React: the custom-mode form, the MCP server form, a tool's
// test-fire arguments checked against its input schema before sending, and a few formatters.

import { parseKeyValueLines, splitCommand } from '../../lib/containers';
import type { components } from '../../api/schema';

type Schemas = components['schemas'];
export type Mode = Schemas['AiMode'];
export type ModeAction = Schemas['AiModeAction'];
export type ModeBody = Schemas['AiModeBody'];
export type McpServer = Schemas['McpServerView'];
export type ServerInput = Schemas['ServerInput'];
export type McpTool = Schemas['McpToolView'];

export const MODE_ACTIONS: readonly ModeAction[] = ['run', 'ask', 'refuse'];
export const MASK = '********';

// -- modes ---------------------------------------------------------------------------------------

export interface ModeForm {
  name: string;
  description: string;
  read: ModeAction;
  write: ModeAction;
  /** One `tool=action` per line. */
  tools: string;
}

export function modeForm(m: Mode | null): ModeForm {
  return {
    name: m?.name ?? '',
    description: m?.description ?? '',
    read: m?.read ?? 'run',
    write: m?.write ?? 'ask',
    tools: Object.entries(m?.tools ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
  };
}

export function modeBody(v: ModeForm): { body: ModeBody | null; errors: Partial<Record<keyof ModeForm, string>> } {
  const errors: Partial<Record<keyof ModeForm, string>> = {};
  const name = v.name.trim();
  if (!name) errors.name = 'A name is required.';
  else if (name.length > 64) errors.name = 'At most 64 characters.';
  if (v.description.length > 500) errors.description = 'At most 500 characters.';
  const parsed = parseKeyValueLines(v.tools, 'line');
  const tools: Record<string, ModeAction> = {};
  if (parsed.errors.length) errors.tools = parsed.errors[0];
  else {
    for (const [tool, action] of Object.entries(parsed.values)) {
      if (!(MODE_ACTIONS as readonly string[]).includes(action)) {
        errors.tools = `${tool}: the action must be run, ask or refuse`;
        break;
      }
      tools[tool] = action as ModeAction;
    }
    if (!errors.tools && Object.keys(tools).length > 200) errors.tools = 'At most 200 tools.';
  }
  if (Object.keys(errors).length) return { body: null, errors };
  return { errors, body: { name, description: v.description.trim(), read: v.read, write: v.write, tools } };
}

// -- MCP servers ---------------------------------------------------------------------------------

export interface ServerForm {
  name: string;
  transport: 'stdio' | 'http';
  command: string;
  /** The arguments as a shell-like line (quotes group words). */
  args: string;
  env: string;
  url: string;
  headers: string;
  enabled: boolean;
}

export function serverForm(s: McpServer | null): ServerForm {
  const quote = (a: string) => (/[\s"']/.test(a) ? `'${a.replace(/'/g, `'"'"'`)}'` : a);
  const lines = (m: Record<string, string> | undefined) =>
    Object.entries(m ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
  return {
    name: s?.name ?? '',
    transport: s?.transport ?? 'stdio',
    command: s?.command ?? '',
    args: (s?.args ?? []).map(quote).join(' '),
    env: lines(s?.env),
    url: s?.url ?? '',
    headers: lines(s?.headers),
    enabled: s?.enabled ?? true,
  };
}

const SERVER_NAME = /^[a-z0-9][a-z0-9-]*$/;

export function serverBody(v: ServerForm): { body: ServerInput | null; errors: Partial<Record<keyof ServerForm, string>> } {
  const errors: Partial<Record<keyof ServerForm, string>> = {};
  const name = v.name.trim();
  if (!name || name.length > 48 || !SERVER_NAME.test(name)) errors.name = 'Lowercase letters, digits and hyphens (at most 48).';
  let body: ServerInput = { name, transport: v.transport, enabled: v.enabled };
  if (v.transport === 'stdio') {
    const command = v.command.trim();
    if (!command) errors.command = 'The command the master runs (an absolute path or a name on its PATH).';
    const { args, error } = splitCommand(v.args);
    if (error) errors.args = error;
    else if (args.length > 64) errors.args = 'At most 64 arguments.';
    const env = parseKeyValueLines(v.env);
    if (env.errors.length) errors.env = env.errors[0];
    body = { ...body, command, args, env: env.values };
  } else {
    const url = v.url.trim();
    let ok = false;
    try {
      const u = new URL(url);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      ok = false;
    }
    if (!ok) errors.url = 'An http:// or https:// URL without credentials.';
    const headers = parseKeyValueLines(v.headers.replace(/^([^=:\n]+):\s*/gm, '$1='), 'header');
    if (headers.errors.length) errors.headers = headers.errors[0];
    body = { ...body, url, headers: headers.values };
  }
  return Object.keys(errors).length ? { body: null, errors } : { body, errors };
}

// -- test-fire -----------------------------------------------------------------------------------

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function fits(v: unknown, type: string | string[] | undefined): boolean {
  if (!type) return true;
  const types = Array.isArray(type) ? type : [type];
  const t = typeOf(v);
  return types.some((x) => x === t || (x === 'number' && t === 'integer'));
}

/** A template of the arguments: each property with a value of its type (required ones only when any). */
export function argumentsTemplate(schema: Record<string, unknown>): string {
  const s = schema as JsonSchema;
  const props = s.properties ?? {};
  const names = s.required?.length ? s.required : Object.keys(props);
  const sample = (p: JsonSchema | undefined): unknown => {
    const t = Array.isArray(p?.type) ? p?.type[0] : p?.type;
    if (p?.enum?.length) return p.enum[0];
    switch (t) {
      case 'integer':
      case 'number':
        return 0;
      case 'boolean':
        return false;
      case 'array':
        return [];
      case 'object':
        return {};
      default:
        return '';
    }
  };
  return JSON.stringify(Object.fromEntries(names.map((n) => [n, sample(props[n])])), null, 2);
}

/**
 * The arguments as JSON, checked before sending: an object, with the schema's required keys,
 * top-level values of the declared types. (The master checks the whole schema again.)
 */
export function parseArguments(text: string, schema: Record<string, unknown>): { value: Record<string, unknown> | null; error: string | null } {
  let value: unknown;
  try {
    value = text.trim() ? JSON.parse(text) : {};
  } catch (e) {
    return { value: null, error: `Not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (typeOf(value) !== 'object') return { value: null, error: 'The arguments must be a JSON object.' };
  const obj = value as Record<string, unknown>;
  const s = schema as JsonSchema;
  for (const r of s.required ?? []) if (!(r in obj)) return { value: null, error: `“${r}” is required.` };
  for (const [k, v] of Object.entries(obj)) {
    const p = s.properties?.[k];
    if (p && !fits(v, p.type)) return { value: null, error: `“${k}” must be ${Array.isArray(p.type) ? p.type.join(' or ') : p.type}.` };
    if (p?.enum && !p.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) return { value: null, error: `“${k}” must be one of ${p.enum.map((e) => JSON.stringify(e)).join(', ')}.` };
  }
  return { value: obj, error: null };
}

/** The text blocks of an MCP answer, joined (other blocks shown as JSON). */
export function contentText(content: readonly Record<string, unknown>[]): string {
  return content.map((b) => (b.type === 'text' && typeof b.text === 'string' ? b.text : JSON.stringify(b))).join('\n');
}

export function formatUsd(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return n === 0 ? '$0' : n < 0.01 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`;
}

/** The chat's max-tokens box: 0 when empty (the model's default), null when not 1 to 32768. */
export function maxTokensOf(text: string): number | null {
  const t = text.trim();
  if (!t) return 0;
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 && n <= 32768 ? n : null;
}
