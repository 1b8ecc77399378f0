// Pure helpers for the Docker pages: which actions a state allows and parsing of the create
// form's free-text fields. What an event means for a container's state is in dockerEvents.ts
// (the live reducer needs it in the main bundle; this module loads with the pages).

import type { ContainerAction, CreateContainerBody, MountSpec, PortInfo, PortSpec } from '../api/types';
import type { Tone } from '../components/ui';

export const CONTAINER_STATES = ['running', 'paused', 'restarting', 'exited', 'created', 'dead', 'removing'] as const;

export const STATE_TONE: Record<string, Tone> = {
  running: 'ok',
  paused: 'warn',
  restarting: 'warn',
  created: 'info',
  removing: 'warn',
  exited: 'neutral',
  dead: 'bad',
};

export const ACTION_LABEL: Record<ContainerAction, string> = {
  start: 'Start',
  stop: 'Stop',
  restart: 'Restart',
  pause: 'Pause',
  unpause: 'Resume',
  kill: 'Kill',
};

/** Actions that interrupt a running workload: they ask for confirmation. */
export const DESTRUCTIVE_ACTIONS: ReadonlySet<ContainerAction> = new Set<ContainerAction>(['stop', 'restart', 'kill']);

/** The actions that make sense in `state`, most likely first. */
export function availableActions(state: string): ContainerAction[] {
  switch (state) {
    case 'running':
      return ['stop', 'restart', 'pause', 'kill'];
    case 'paused':
      return ['unpause', 'stop', 'kill'];
    case 'restarting':
      return ['stop', 'kill'];
    case 'removing':
      return [];
    default:
      // created, exited, dead
      return ['start'];
  }
}

export { containerEventEffect, stateAfterAction, type DockerEventEffect } from './dockerEvents';

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export function formatPort(p: PortInfo): string {
  const proto = p.protocol && p.protocol !== 'tcp' ? `/${p.protocol}` : '';
  if (p.host_port === null || p.host_port === undefined) return `${p.container_port}${proto}`;
  const ip = p.host_ip && p.host_ip !== '0.0.0.0' && p.host_ip !== '::' ? `${p.host_ip}:` : '';
  return `${ip}${p.host_port}→${p.container_port}${proto}`;
}

/** Distinct published ports (Docker lists IPv4 and IPv6 bindings separately). */
export function formatPorts(ports: readonly PortInfo[]): string[] {
  return [...new Set(ports.map(formatPort))];
}

/**
 * Splits a command line like a POSIX shell would for a plain command: whitespace separates
 * words, single quotes keep everything literally, double quotes keep spaces and honour `\"`
 * and `\\`, a backslash outside quotes escapes the next character. Unclosed quotes are an error.
 */
export function splitCommand(input: string): { args: string[]; error: string | null } {
  const args: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else cur += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === '\\' && (input[i + 1] === '"' || input[i + 1] === '\\')) cur += input[++i];
      else cur += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < input.length) {
      cur += input[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) args.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) return { args: [], error: `unclosed ${quote === '"' ? 'double' : 'single'} quote` };
  if (inWord) args.push(cur);
  return { args, error: null };
}

/**
 * `KEY=value` lines (environment variables, labels). Blank lines and `#` comments are skipped;
 * the value may contain `=`. Errors name the line.
 */
export function parseKeyValueLines(text: string, what = 'line'): { values: Record<string, string>; errors: string[] } {
  const values: Record<string, string> = {};
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (eq < 0 || !key) {
      errors.push(`${what} ${i + 1}: expected KEY=value`);
      return;
    }
    if (/\s/.test(key)) {
      errors.push(`${what} ${i + 1}: the key “${key}” contains spaces`);
      return;
    }
    values[key] = line.slice(eq + 1).trim();
  });
  return { values, errors };
}

/** The dashboard path of a container. */
export function containerPath(endpoint: string, id: string): string {
  return `/containers/${encodeURIComponent(endpoint)}/${encodeURIComponent(id)}`;
}

// -- create form ------------------------------------------------------------------------------

export interface PortRow {
  container: string;
  host: string;
  protocol: 'tcp' | 'udp';
}

export interface MountRow {
  type: 'bind' | 'volume';
  source: string;
  target: string;
  readOnly: boolean;
}

export interface CreateForm {
  endpoint: string;
  image: string;
  name: string;
  command: string;
  env: string;
  ports: PortRow[];
  mounts: MountRow[];
  networks: string;
  restartPolicy: string;
  labels: string;
  start: boolean;
}

export const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'] as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function port(v: string): number | null {
  if (!/^\d+$/.test(v.trim())) return null;
  const n = Number(v);
  return n >= 1 && n <= 65535 ? n : null;
}

/**
 * The form → the body of `POST /api/containers`, or the errors by field. Empty rows are skipped;
 * the master validates again and names the field if it disagrees.
 */
export function buildCreateBody(f: CreateForm): { body: CreateContainerBody | null; errors: Partial<Record<keyof CreateForm, string>> } {
  const errors: Partial<Record<keyof CreateForm, string>> = {};
  const image = f.image.trim();
  if (!image) errors.image = 'Enter an image, e.g. nginx:1.27.';
  else if (/\s/.test(image)) errors.image = 'An image reference has no spaces.';
  const name = f.name.trim();
  if (name && !NAME_RE.test(name)) errors.name = 'Letters, digits, “_”, “.”, “-”; starting with a letter or digit.';
  const cmd = splitCommand(f.command);
  if (cmd.error) errors.command = `Command: ${cmd.error}.`;
  const env = parseKeyValueLines(f.env);
  if (env.errors.length) errors.env = env.errors.join('; ');
  const labels = parseKeyValueLines(f.labels);
  if (labels.errors.length) errors.labels = labels.errors.join('; ');

  const ports: PortSpec[] = [];
  f.ports.forEach((r, i) => {
    if (!r.container.trim() && !r.host.trim()) return;
    const c = port(r.container);
    const h = r.host.trim() ? port(r.host) : undefined;
    if (c === null || h === null) {
      errors.ports = `Port row ${i + 1}: ports are numbers from 1 to 65535.`;
      return;
    }
    ports.push({ container_port: c, ...(h !== undefined ? { host_port: h } : {}), protocol: r.protocol });
  });

  const mounts: MountSpec[] = [];
  f.mounts.forEach((m, i) => {
    if (!m.source.trim() && !m.target.trim()) return;
    if (!m.source.trim() || !m.target.trim().startsWith('/')) {
      errors.mounts = `Mount row ${i + 1}: a source and an absolute target path are needed.`;
      return;
    }
    if (m.type === 'bind' && !m.source.trim().startsWith('/')) {
      errors.mounts = `Mount row ${i + 1}: a bind mount’s source is an absolute host path.`;
      return;
    }
    mounts.push({ type: m.type, source: m.source.trim(), target: m.target.trim(), read_only: m.readOnly });
  });

  const networks = f.networks
    .split(/[\s,]+/)
    .map((n) => n.trim())
    .filter(Boolean);

  if (Object.keys(errors).length) return { body: null, errors };
  const body: CreateContainerBody = {
    image,
    command: cmd.args,
    env: env.values,
    ports,
    mounts,
    networks,
    labels: labels.values,
    start: f.start,
  };
  if (f.endpoint) body.endpoint = f.endpoint;
  if (name) body.name = name;
  if (f.restartPolicy && f.restartPolicy !== 'no') body.restart_policy = f.restartPolicy;
  return { body, errors };
}
