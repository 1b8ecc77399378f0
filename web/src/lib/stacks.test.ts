import { describe, expect, it } from 'vitest';
import {
  applyStackProgress,
  composeError,
  deployLabel,
  failRun,
  finishOperation,
  finishRun,
  formatEnv,
  parseEnv,
  projectNameError,
  RUN_MAX_LINES,
  stackActions,
  startRun,
} from './stacks';
import type { Operation, StackActionResult } from '../api/types';

const stack = (over: Partial<{ discovered: boolean; status: string; containers: number; running: number }> = {}) => ({
  discovered: false,
  status: 'stored',
  containers: 0,
  running: 0,
  ...over,
});

describe('stackActions', () => {
  it('offers what makes sense for the state', () => {
    expect(stackActions(stack())).toEqual(['deploy']);
    expect(stackActions(stack({ status: 'running', containers: 2, running: 2 }))).toEqual(['deploy', 'stop', 'remove']);
    expect(stackActions(stack({ status: 'partial', containers: 2, running: 1 }))).toEqual(['deploy', 'stop', 'remove']);
    expect(stackActions(stack({ status: 'stopped', containers: 2, running: 0 }))).toEqual(['deploy', 'remove']);
    expect(stackActions(stack({ discovered: true, status: 'running', containers: 1, running: 1 }))).toEqual([]);
    expect(deployLabel({ containers: 0 })).toBe('Deploy');
    expect(deployLabel({ containers: 3 })).toBe('Redeploy');
  });
});

describe('names and files', () => {
  it('checks project names like the master', () => {
    expect(projectNameError('web-1_a')).toBeNull();
    expect(projectNameError('')).toBe('Required.');
    expect(projectNameError('Web')).not.toBeNull();
    expect(projectNameError('-web')).not.toBeNull();
    expect(projectNameError('a'.repeat(65))).toBe('At most 64 characters.');
  });

  it('wants a services map', () => {
    expect(composeError('services:\n  web:\n    image: x\n')).toBeNull();
    expect(composeError('  ')).toBe('The compose file is empty.');
    expect(composeError('version: "3"\n')).not.toBeNull();
  });
});

describe('env text', () => {
  it('parses KEY=VALUE lines, skipping blanks and comments, the last duplicate winning', () => {
    const r = parseEnv('# db\nDB_HOST=db\n\nURL=http://x/?a=b\nEMPTY=\nDB_HOST=db2\n');
    expect(r.errors).toEqual([]);
    expect(r.env).toEqual({ DB_HOST: 'db2', URL: 'http://x/?a=b', EMPTY: '' });
  });

  it('reports bad lines with their numbers', () => {
    const r = parseEnv('OK=1\nnot a pair\n1BAD=x\n=x');
    expect(r.env).toEqual({ OK: '1' });
    expect(r.errors).toEqual(['line 2: expected KEY=VALUE', 'line 3: “1BAD” is not a valid variable name', 'line 4: expected KEY=VALUE']);
  });

  it('round-trips', () => {
    const env = { A: '1', B: 'x=y' };
    expect(parseEnv(formatEnv(env)).env).toEqual(env);
  });
});

describe('run log from stack.progress', () => {
  it('collects lines of its stack only, then the end', () => {
    let run = applyStackProgress(startRun('deploy'), 's1', { id: 's1', action: 'deploy', line: 'Creating web_1', stream: 'stderr' });
    run = applyStackProgress(run, 's1', { id: 'other', action: 'deploy', line: 'not mine' });
    run = applyStackProgress(run, 's1', { id: 's1', action: 'deploy', line: 'Started' });
    run = applyStackProgress(run, 's1', { id: 's1', action: 'deploy', done: true, ok: true, exit_code: 0 });
    expect(run).toMatchObject({ action: 'deploy', done: true, ok: true, exitCode: 0 });
    expect(run!.lines).toEqual([
      { line: 'Creating web_1', stream: 'stderr' },
      { line: 'Started', stream: 'stdout' },
    ]);
  });

  it('starts a run when progress arrives unasked (another user deploying), and a new one after the end', () => {
    let run = applyStackProgress(null, 's1', { id: 's1', action: 'stop', line: 'Stopping' });
    expect(run).toMatchObject({ action: 'stop', done: false });
    run = applyStackProgress(run, 's1', { id: 's1', action: 'stop', done: true, ok: false, exit_code: 1 });
    expect(run).toMatchObject({ done: true, ok: false, exitCode: 1 });
    run = applyStackProgress(run, 's1', { id: 's1', action: 'deploy', line: 'Creating' });
    expect(run).toMatchObject({ action: 'deploy', done: false, lines: [{ line: 'Creating', stream: 'stdout' }] });
    expect(applyStackProgress(null, 's1', { id: 'x', line: 'y' })).toBeNull();
  });

  it('is bounded', () => {
    let run: ReturnType<typeof applyStackProgress> = startRun('deploy');
    for (let i = 0; i < RUN_MAX_LINES + 5; i++) run = applyStackProgress(run, 's', { id: 's', action: 'deploy', line: String(i) });
    expect(run!.lines).toHaveLength(RUN_MAX_LINES);
    expect(run!.dropped).toBe(5);
    expect(run!.lines[0]!.line).toBe('5');
  });

  it('the answer fills in lines events did not bring (worker endpoints), without repeating those that came', () => {
    const partial = applyStackProgress(startRun('deploy'), 's', { id: 's', action: 'deploy', line: 'a' });
    const done = finishRun(partial, 'deploy', {
      ok: true,
      exit_code: 0,
      command: 'docker-compose -p web up -d',
      output: [
        { line: 'a', stream: 'stdout' },
        { line: 'b', stream: 'stdout' },
      ],
    });
    expect(done.lines.map((l) => l.line)).toEqual(['a', 'b']);
    expect(done).toMatchObject({ done: true, ok: true, exitCode: 0, command: 'docker-compose -p web up -d' });
    const fromNothing = finishRun(null, 'stop', { ok: true, exit_code: 0, command: 'c', output: [{ line: 'x', stream: 'stderr' }] });
    expect(fromNothing).toMatchObject({ action: 'stop', lines: [{ line: 'x', stream: 'stderr' }] });
  });

  it('a failed request keeps the lines and says why', () => {
    const r = failRun(applyStackProgress(startRun('deploy'), 's', { id: 's', action: 'deploy', line: 'pulling' }), 'deploy', 'exit code 1');
    expect(r).toMatchObject({ done: true, ok: false, error: 'exit code 1', lines: [{ line: 'pulling', stream: 'stdout' }] });
  });

  const op = (over: Partial<Operation<StackActionResult>>): Operation<StackActionResult> => ({
    id: 'op',
    kind: 'stack.deploy',
    resource: 'stack:s',
    state: 'succeeded',
    progress: null,
    message: null,
    result: null,
    error: null,
    created_by: 'admin',
    created_at: '2026-01-01T00:00:00.000Z',
    started_at: null,
    finished_at: null,
    owner: 'master-1',
    lease_until: '2026-01-01T00:00:30.000Z',
    ...over,
  });
  const result = (ok: boolean): StackActionResult => ({
    id: 's',
    action: 'deploy',
    ok,
    exit_code: ok ? 0 : 1,
    command: 'docker-compose -p web up -d',
    status: ok ? 'running' : 'stored',
    output: [{ line: 'b', stream: 'stderr' }],
  });

  it('the operation that ran the action completes the run', () => {
    const partial = applyStackProgress(startRun('deploy'), 's', { id: 's', action: 'deploy', line: 'a' });
    const ok = finishOperation(partial, 'deploy', op({ result: result(true) }));
    expect(ok).toMatchObject({ done: true, ok: true, exitCode: 0, error: null });
    const failed = finishOperation(partial, 'deploy', op({ state: 'failed', result: result(false), error: 'exit code 1' }));
    expect(failed).toMatchObject({ done: true, ok: false, exitCode: 1, error: 'exit code 1' });
    expect(failed.lines.map((l) => l.line)).toEqual(['a']);
    const cancelled = finishOperation(partial, 'deploy', op({ state: 'cancelled', error: 'cancelled' }));
    expect(cancelled).toMatchObject({ done: true, ok: false, error: 'cancelled', lines: [{ line: 'a', stream: 'stdout' }] });
    const interrupted = finishOperation(null, 'stop', op({ state: 'interrupted' }));
    expect(interrupted).toMatchObject({ action: 'stop', done: true, ok: false, error: 'the operation was interrupted' });
  });
});
