import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  containerStreamUrl,
  ExecSession,
  filterLines,
  handshakeProbeUrl,
  LogBuffer,
  LogFollower,
  probeHandshake,
  type LogFollowerOptions,
} from './containerStreams';
import type { SocketLike } from './events';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  closedWith: number | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(data);
  }
  close(code?: number) {
    this.closedWith = code;
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  drop(code = 1006, reason = '') {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code, reason });
  }
}

const log = (line: string, stream = 'stdout') => ({ type: 'log', stream, ts: '2026-01-01T00:00:00Z', line });

describe('containerStreamUrl', () => {
  it('builds ws/wss URLs on the page origin, encoding the id and dropping empty params', () => {
    expect(containerStreamUrl('logs', 'abc', { endpoint: 'local', tail: 100, x: '' }, { protocol: 'http:', host: 'h:8080' })).toBe(
      'ws://h:8080/api/containers/abc/logs/ws?endpoint=local&tail=100',
    );
    expect(containerStreamUrl('exec', 'a/b', { endpoint: 'e 1' }, { protocol: 'https:', host: 'cb.example' })).toBe(
      'wss://cb.example/api/containers/a%2Fb/exec/ws?endpoint=e+1',
    );
    expect(handshakeProbeUrl('wss://cb.example/api/x/ws?a=1')).toBe('https://cb.example/api/x/ws?a=1');
    expect(handshakeProbeUrl('ws://h/api/x/ws')).toBe('http://h/api/x/ws');
  });
});

describe('LogBuffer', () => {
  it('keeps exactly the last `capacity` lines with increasing seq numbers', () => {
    const b = new LogBuffer(3);
    for (let i = 1; i <= 10; i++) b.push('line', `l${i}`);
    const v = b.view();
    expect(v.map((l) => l.text)).toEqual(['l8', 'l9', 'l10']);
    expect(v.map((l) => l.seq)).toEqual([8, 9, 10]);
    expect(b.size).toBe(3);
    expect(b.total).toBe(10);
    expect(b.dropped).toBe(7);
  });

  it('returns a fresh array each time (a React snapshot never mutates)', () => {
    const b = new LogBuffer(5);
    b.push('line', 'a');
    const v1 = b.view();
    b.push('line', 'b');
    expect(v1.map((l) => l.text)).toEqual(['a']);
    expect(b.view().map((l) => l.text)).toEqual(['a', 'b']);
  });

  it('does not grow without bound', () => {
    const b = new LogBuffer(100);
    for (let i = 0; i < 10_000; i++) b.push('line', String(i));
    // The backing array is cut back once it reaches twice the capacity.
    expect((b as unknown as { items: unknown[] }).items.length).toBeLessThan(200);
    expect(b.view()[0]?.text).toBe('9900');
  });
});

describe('filterLines', () => {
  it('filters case-insensitively and keeps markers', () => {
    const b = new LogBuffer(10);
    b.push('line', 'Hello World');
    b.push('marker', 'reconnected');
    b.push('line', 'other');
    const v = b.view();
    expect(filterLines(v, '  hello ').map((l) => l.text)).toEqual(['Hello World', 'reconnected']);
    expect(filterLines(v, '')).toBe(v);
  });
});

function follower(extra: Partial<LogFollowerOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const f = new LogFollower({
    url: (first) => `ws://h/logs/ws?tail=${first ? 100 : 0}`,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    schedule: (fn) => fn(),
    random: () => 1,
    backoff: { initialMs: 1_000, maxMs: 8_000, factor: 2 },
    ...extra,
  });
  const last = () => sockets[sockets.length - 1]!;
  const texts = () => f.getSnapshot().lines.map((l) => (l.kind === 'marker' ? `[${l.text}]` : l.text));
  return { f, sockets, last, texts };
}

describe('LogFollower', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('connects, goes live and appends log frames; ignores garbage', () => {
    const { f, last, texts } = follower();
    const states: string[] = [];
    f.subscribe(() => states.push(f.getSnapshot().status));
    f.start();
    expect(f.getSnapshot().status).toBe('connecting');
    expect(last().url).toBe('ws://h/logs/ws?tail=100');
    last().open();
    expect(f.getSnapshot().status).toBe('live');
    last().receive(log('one'));
    last().receive('not json');
    last().receive({ type: 'mystery' });
    last().receive(log('two', 'stderr'));
    expect(texts()).toEqual(['one', 'two']);
    expect(f.getSnapshot().lines[1]?.stream).toBe('stderr');
    expect(states).toContain('live');
  });

  it('batches a burst of lines into one published snapshot', () => {
    const queued: (() => void)[] = [];
    const { f, last } = follower({ schedule: (fn) => queued.push(fn) });
    f.start();
    last().open();
    let publishes = 0;
    f.subscribe(() => publishes++);
    for (let i = 0; i < 50; i++) last().receive(log(`l${i}`));
    expect(queued).toHaveLength(1);
    expect(f.getSnapshot().lines).toHaveLength(0);
    queued.shift()!();
    expect(publishes).toBe(1);
    expect(f.getSnapshot().lines).toHaveLength(50);
  });

  it('bounds what it keeps', () => {
    const { f, last, texts } = follower({ capacity: 3 });
    f.start();
    last().open();
    for (let i = 1; i <= 5; i++) last().receive(log(`l${i}`));
    expect(texts()).toEqual(['l3', 'l4', 'l5']);
    expect(f.getSnapshot().dropped).toBe(2);
  });

  it('pause freezes the view and counts what arrives; resume shows it', () => {
    const { f, last, texts } = follower();
    f.start();
    last().open();
    last().receive(log('a'));
    f.setPaused(true);
    last().receive(log('b'));
    last().receive(log('c'));
    expect(texts()).toEqual(['a']);
    expect(f.getSnapshot().pending).toBe(2);
    f.setPaused(false);
    expect(texts()).toEqual(['a', 'b', 'c']);
    expect(f.getSnapshot().pending).toBe(0);
  });

  it('an end frame is final: no reconnect until asked, and then without history', () => {
    const { f, sockets, last, texts } = follower();
    f.start();
    last().open();
    last().receive(log('bye'));
    last().receive({ type: 'end' });
    last().drop(1000);
    expect(f.getSnapshot().status).toBe('ended');
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(texts()).toEqual(['bye', '[the log ended — the container stopped]']);
    f.reconnect();
    expect(sockets).toHaveLength(2);
    expect(last().url).toBe('ws://h/logs/ws?tail=0');
    last().open();
    expect(f.getSnapshot().status).toBe('live');
  });

  it('reconnects after a drop with backoff, marks the gap and asks for no history again', () => {
    const { f, sockets, last, texts } = follower({ now: () => 1_000_000 });
    f.start();
    last().open();
    last().receive(log('x'));
    last().drop(1006);
    const s = f.getSnapshot();
    expect(s.status).toBe('retrying');
    expect(s.retryAt).toBe(1_000_000 + 1_000);
    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    expect(last().url).toBe('ws://h/logs/ws?tail=0');
    // Fails again before opening: the delay doubles.
    last().drop(1006);
    expect(f.getSnapshot().retryAt).toBe(1_000_000 + 2_000);
    vi.advanceTimersByTime(2_000);
    last().open();
    expect(f.getSnapshot().status).toBe('live');
    expect(f.getSnapshot().attempt).toBe(0);
    expect(texts()).toEqual(['x', '[disconnected]', '[reconnected — lines logged while disconnected may be missing]']);
  });

  it('a refused handshake shows the API reason from diagnose and stops retrying', async () => {
    const diagnose = vi.fn(async () => 'container abc not found');
    const { f, sockets, last } = follower({ diagnose });
    f.start();
    last().drop(1006);
    await vi.waitFor(() => expect(f.getSnapshot().status).toBe('failed'));
    expect(f.getSnapshot().error).toBe('container abc not found');
    expect(diagnose).toHaveBeenCalledWith('ws://h/logs/ws?tail=100');
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });

  it('retries when diagnose finds nothing wrong (e.g. the session was refreshed)', async () => {
    const { f, sockets, last } = follower({ diagnose: async () => null });
    f.start();
    last().drop(1006);
    await vi.waitFor(() => expect(f.getSnapshot().status).toBe('retrying'));
    vi.advanceTimersByTime(1_000);
    expect(sockets).toHaveLength(2);
  });

  it('an error frame is shown and final', () => {
    const { f, sockets, last } = follower();
    f.start();
    last().open();
    last().receive({ type: 'error', error: 'docker said no' });
    last().drop(1000);
    expect(f.getSnapshot()).toMatchObject({ status: 'failed', error: 'docker said no' });
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });

  it('stop closes the socket, cancels a pending retry and ignores late frames', () => {
    const { f, sockets, last } = follower();
    f.start();
    last().open();
    last().drop(1006);
    f.stop();
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(f.getSnapshot().status).toBe('stopped');

    f.start();
    const s = last();
    s.open();
    f.stop();
    expect(s.closedWith).toBe(1000);
    s.receive(log('late'));
    expect(f.getSnapshot().lines.filter((l) => l.text === 'late')).toHaveLength(0);
  });

  it('clear empties the view while following', () => {
    const { f, last, texts } = follower();
    f.start();
    last().open();
    last().receive(log('a'));
    f.clear();
    expect(texts()).toEqual([]);
    last().receive(log('b'));
    expect(texts()).toEqual(['b']);
  });
});

describe('ExecSession', () => {
  function exec(diagnose?: (url: string) => Promise<string | null>) {
    let socket!: FakeSocket;
    const out: string[] = [];
    const s = new ExecSession({
      url: 'ws://h/exec/ws',
      onOutput: (d) => out.push(d),
      createSocket: (url) => (socket = new FakeSocket(url)),
      diagnose,
    });
    return { s, socket, out };
  }

  it('passes output through, sends input and resizes only while open, reports the exit code', () => {
    const { s, socket, out } = exec();
    s.input('early');
    expect(socket.sent).toEqual([]);
    socket.open();
    expect(s.getSnapshot().status).toBe('open');
    socket.receive({ type: 'output', data: '/ # ' });
    s.input('echo hi\r');
    s.resize(24, 80);
    s.resize(0, 80);
    expect(out).toEqual(['/ # ']);
    expect(socket.sent.map((x) => JSON.parse(x))).toEqual([
      { type: 'input', data: 'echo hi\r' },
      { type: 'resize', rows: 24, cols: 80 },
    ]);
    socket.receive({ type: 'exit', code: 3 });
    socket.drop(1000);
    expect(s.getSnapshot()).toEqual({ status: 'exited', exitCode: 3, error: null });
  });

  it('an exit without a code is reported as unknown', () => {
    const { s, socket } = exec();
    socket.open();
    socket.receive({ type: 'exit', code: null });
    expect(s.getSnapshot()).toMatchObject({ status: 'exited', exitCode: null });
  });

  it('a refused handshake reports the reason diagnose found', async () => {
    const { s, socket } = exec(async () => 'exec is not allowed on this node (security policy)');
    socket.drop(1006);
    await vi.waitFor(() => expect(s.getSnapshot().status).toBe('failed'));
    expect(s.getSnapshot().error).toBe('exec is not allowed on this node (security policy)');
  });

  it('a drop without exit is "closed"; close() by the owner stops everything', () => {
    const { s, socket } = exec();
    socket.open();
    socket.drop(1006, 'server shutting down');
    expect(s.getSnapshot()).toMatchObject({ status: 'closed', error: 'server shutting down' });

    const b = exec();
    b.socket.open();
    b.s.close();
    expect(b.socket.closedWith).toBe(1000);
    expect(b.s.getSnapshot().status).toBe('closed');
  });
});

describe('probeHandshake', () => {
  const respond = (status: number, body: unknown) => async () =>
    new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('returns the API error text for a refusal', async () => {
    const refresh = vi.fn(async () => undefined);
    expect(await probeHandshake('ws://h/x', refresh, respond(404, { error: 'no such container' }))).toBe('no such container');
    expect(await probeHandshake('ws://h/x', refresh, respond(409, { error: 'agent endpoint' }))).toBe('agent endpoint');
    expect(await probeHandshake('ws://h/x', refresh, respond(403, { error: 'admin only' }))).toBe(
      "You don't have permission to do this (admin only).",
    );
    expect(await probeHandshake('ws://h/x', refresh, respond(500, 'oops'))).toBe('the server answered 500');
    expect(refresh).not.toHaveBeenCalled();
  });

  it('null (retry) when only the upgrade was missing, on network errors, and after refreshing an expired session', async () => {
    const refresh = vi.fn(async () => undefined);
    expect(await probeHandshake('ws://h/x', refresh, respond(400, { error: 'WebSocket handshake failed: no upgrade' }))).toBeNull();
    expect(
      await probeHandshake('ws://h/x', refresh, async () => {
        throw new TypeError('network');
      }),
    ).toBeNull();
    expect(await probeHandshake('ws://h/x', refresh, respond(401, { error: 'expired' }))).toBeNull();
    expect(refresh).toHaveBeenCalledTimes(1);
    // Other 400s are real answers.
    expect(await probeHandshake('ws://h/x', refresh, respond(400, { error: 'cmd must be 1 to 64 words' }))).toBe('cmd must be 1 to 64 words');
  });
});
