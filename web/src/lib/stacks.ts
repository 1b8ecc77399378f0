// Pure helpers of the Stacks pages: statuses, which actions a stack offers, the env editor's
// KEY=VALUE text, name rules (as the master checks them) and the run log fed by
// `stack.progress` events.

import type { Operation, Stack, StackAction, StackActionResult, StackOutputLine } from '../api/types';
import type { Tone } from '../components/ui';

export const STACK_STATUSES = ['running', 'partial', 'stopped', 'stored', 'unknown'] as const;

export const STACK_STATUS_TONE: Record<string, Tone> = {
  running: 'ok',
  partial: 'warn',
  stopped: 'neutral',
  stored: 'info',
  unknown: 'bad',
};

export const STACK_STATUS_HINT: Record<string, string> = {
  running: 'Every container runs',
  partial: 'Some containers run, some do not',
  stopped: 'Containers exist, none runs',
  stored: 'Stored, no containers (never deployed, or removed)',
  unknown: 'The endpoint did not answer',
};

export const STACK_ACTION_LABEL: Record<StackAction, string> = { deploy: 'Deploy', stop: 'Stop', remove: 'Remove' };

/** What an operator can do with a stack right now. Discovered projects can only be adopted. */
export function stackActions(s: Pick<Stack, 'discovered' | 'status' | 'containers' | 'running'>): StackAction[] {
  if (s.discovered) return [];
  const out: StackAction[] = ['deploy'];
  if (s.running > 0 || s.status === 'running' || s.status === 'partial') out.push('stop');
  if (s.containers > 0) out.push('remove');
  return out;
}

/** "Redeploy" once something runs: `up -d` applies the stored file to what is there. */
export function deployLabel(s: Pick<Stack, 'containers'>): string {
  return s.containers > 0 ? 'Redeploy' : 'Deploy';
}

/** The master's rule for compose project names; null when fine. */
export function projectNameError(name: string): string | null {
  if (!name) return 'Required.';
  if (name.length > 64) return 'At most 64 characters.';
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) return 'Lowercase letters, digits, “_” and “-”, starting with a letter or digit.';
  return null;
}

/** A quick check before sending; the master validates the YAML itself. */
export function composeError(text: string): string | null {
  if (!text.trim()) return 'The compose file is empty.';
  if (!/^services\s*:/m.test(text)) return 'A compose file needs a top-level “services:” map.';
  return null;
}

export interface EnvParse {
  env: Record<string, string>;
  /** One message per bad line, with its line number. */
  errors: string[];
}

/**
 * `KEY=VALUE` lines (as in a `.env` file) into a map. Blank lines and `#` comments are skipped;
 * the value is everything after the first `=`, taken literally (no quote handling: the master
 * writes it back as given). A repeated key: the last one wins, as in compose.
 */
export function parseEnv(text: string): EnvParse {
  const env: Record<string, string> = {};
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      errors.push(`line ${i + 1}: expected KEY=VALUE`);
      return;
    }
    const key = line.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      errors.push(`line ${i + 1}: “${key}” is not a valid variable name`);
      return;
    }
    env[key] = raw.slice(raw.indexOf('=') + 1).replace(/^\s+/, '');
  });
  return { env, errors };
}

export function formatEnv(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

// -- run log --------------------------------------------------------------------------------

/** Lines kept per run; compose output of a big project stays well below. */
export const RUN_MAX_LINES = 2_000;

export interface StackRun {
  action: string;
  lines: StackOutputLine[];
  /** Lines that fell out of the bounded log. */
  dropped: number;
  done: boolean;
  ok: boolean | null;
  exitCode: number | null;
  /** Why the request failed (the API's `error` text), when it did. */
  error: string | null;
  command: string | null;
}

export function startRun(action: string): StackRun {
  return { action, lines: [], dropped: 0, done: false, ok: null, exitCode: null, error: null, command: null };
}

function pushLines(run: StackRun, lines: StackOutputLine[]): StackRun {
  if (lines.length === 0) return run;
  const all = run.lines.concat(lines);
  const over = all.length - RUN_MAX_LINES;
  return over > 0 ? { ...run, lines: all.slice(over), dropped: run.dropped + over } : { ...run, lines: all };
}

/**
 * One `stack.progress` payload (`{id, action, line, stream}` or `{id, action, done, ok,
 * exit_code}`) applied to the run of stack `stackId`. Progress of another stack is ignored; a
 * line of a different action than the run's (someone else started one) starts a new run.
 */
export function applyStackProgress(run: StackRun | null, stackId: string, payload: Record<string, unknown>): StackRun | null {
  if (payload.id !== stackId) return run;
  const action = typeof payload.action === 'string' ? payload.action : (run?.action ?? 'deploy');
  const line = typeof payload.line === 'string';
  // A line after the run finished, or of another action, is a new run.
  let next = !run || (run.done ? line : run.action !== action) ? startRun(action) : run;
  if (line) {
    next = pushLines(next, [{ line: payload.line as string, stream: typeof payload.stream === 'string' ? payload.stream : 'stdout' }]);
  }
  if (payload.done === true) {
    next = {
      ...next,
      done: true,
      ok: typeof payload.ok === 'boolean' ? payload.ok : next.ok,
      exitCode: typeof payload.exit_code === 'number' ? payload.exit_code : next.exitCode,
    };
  }
  return next;
}

/**
 * The request answered: fill in what events did not bring (a worker's output arrives only with
 * the answer, and a browser that reconnected may have missed some lines).
 */
export function finishRun(run: StackRun | null, action: string, result: { ok: boolean; exit_code: number; command: string; output: StackOutputLine[] }): StackRun {
  const base = run ?? startRun(action);
  const missing = base.lines.length + base.dropped < result.output.length ? result.output.slice(base.lines.length + base.dropped) : [];
  return { ...pushLines(base, missing), done: true, ok: result.ok, exitCode: result.exit_code, command: result.command };
}

export function failRun(run: StackRun | null, action: string, error: string): StackRun {
  const base = run ?? startRun(action);
  return { ...base, done: true, ok: false, error };
}

/**
 * The operation running the action ended: its result (when the CLI ran) completes the run; an
 * operation that failed, was cancelled or interrupted shows its error.
 */
export function finishOperation(run: StackRun | null, action: string, op: Operation<StackActionResult>): StackRun {
  const base = op.result ? finishRun(run, action, op.result) : (run ?? startRun(action));
  if (op.state === 'succeeded') return base;
  return { ...base, done: true, ok: false, error: op.error ?? `the operation was ${op.state}` };
}
