import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveEvent } from '../api/types';
import { backoffDelay } from './backoff';
import { LiveClient, liveUrl, type LiveClientOptions, type ResyncReason, type SocketLike } from './events';

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
  // -- test drivers
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code, reason: '' });
  }
}

function setup(extra: Partial<LiveClientOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const events: LiveEvent[] = [];
  const resyncs: ResyncReason[] = [];
  const client = new LiveClient({
    url: (since) => `ws://h/api/ws${since !== null ? `?since=${since}` : ''}`,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    onEvent: (e) => events.push(e),
    onResync: (r) => resyncs.push(r),
    random: () => 1, // deterministic: the full (capped) delay
    ...extra,
  });
  const last = () => sockets[sockets.length - 1]!;
  return { client, sockets, events, resyncs, last };
}

const ev = (id: number, type = 'user.created', payload: Record<string, unknown> = {}) => ({
  id,
  type,
  ts: '2026-01-01T00:00:00Z',
  payload,
});

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and jitters within [d/2, d]', () => {
    const opts = { initialMs: 500, maxMs: 30_000, factor: 2 };
    expect(backoffDelay(0, opts, () => 1)).toBe(500);
    expect(backoffDelay(0, opts, () => 0)).toBe(250);
    expect(backoffDelay(3, opts, () => 1)).toBe(4000);
    expect(backoffDelay(10, opts, () => 1)).toBe(30_000);
    expect(backoffDelay(10, opts, () => 0)).toBe(15_000);
    expect(backoffDelay(5000, opts, () => 0.5)).toBe(22_500); // no overflow to Infinity/NaN
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(4, opts);
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });
});

describe('liveUrl', () => {
  it('follows the page scheme and adds since only when known', () => {
    expect(liveUrl(null, { protocol: 'http:', host: 'localhost:8080' })).toBe('ws://localhost:8080/api/ws');
    expect(liveUrl(42, { protocol: 'https:', host: 'cb.example' })).toBe('wss://cb.example/api/ws?since=42');
  });
});

describe('LiveClient', () => {
  it('connects fresh, goes online, and delivers events in order', () => {
    const { client, sockets, events, last } = setup();
    const statuses: string[] = [];
    client.subscribe(() => statuses.push(client.getSnapshot().status));
    client.start();
    expect(sockets).toHaveLength(1);
    expect(last().url).toBe('ws://h/api/ws');
    expect(client.getSnapshot().status).toBe('connecting');
    last().open();
    expect(client.getSnapshot().status).toBe('online');
    last().receive({ type: 'hello', last_id: 10 });
    last().receive(ev(11));
    last().receive(ev(12, 'user.deleted'));
    expect(events.map((e) => e.id)).toEqual([11, 12]);
    expect(client.lastId).toBe(12);
    expect(statuses).toContain('online');
  });

  it('takes the resume point from hello before any event arrives', () => {
    const { client, last } = setup();
    client.start();
    last().open();
    last().receive({ type: 'hello', last_id: 77 });
    expect(client.lastId).toBe(77);
    last().drop();
    vi.advanceTimersByTime(500);
    expect(last().url).toBe('ws://h/api/ws?since=77');
  });

  it('reconnects after a drop and resumes with since=<last id>', () => {
    const { client, sockets, events, resyncs, last } = setup();
    client.start();
    last().open();
    last().receive(ev(5));
    last().drop();
    expect(client.getSnapshot().status).toBe('offline');
    expect(client.getSnapshot().retryAt).toBe(Date.now() + 500);
    vi.advanceTimersByTime(499);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    expect(last().url).toBe('ws://h/api/ws?since=5');
    last().open();
    last().receive({ type: 'hello', last_id: 8 });
    // The server replays 5 (overlap) and the missed 6..8: the duplicate is dropped.
    last().receive(ev(5));
    last().receive(ev(6));
    last().receive(ev(7));
    last().receive(ev(8));
    expect(events.map((e) => e.id)).toEqual([5, 6, 7, 8]);
    expect(resyncs).toEqual([]);
    expect(client.getSnapshot().status).toBe('online');
  });

  it('backs off exponentially with a cap while the server stays away, forever', () => {
    const { client, sockets, last } = setup({ backoff: { initialMs: 1000, maxMs: 8000, factor: 2 } });
    client.start();
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      last().drop(); // the handshake fails
      const snap = client.getSnapshot();
      delays.push(snap.retryAt! - Date.now());
      vi.advanceTimersByTime(snap.retryAt! - Date.now());
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000]);
    expect(sockets).toHaveLength(9);
    expect(client.getSnapshot().status).toBe('connecting'); // never been online yet
  });

  it('applies jitter from the random source', () => {
    const { client, last } = setup({ random: () => 0, backoff: { initialMs: 1000, maxMs: 8000, factor: 2 } });
    client.start();
    last().drop();
    expect(client.getSnapshot().retryAt! - Date.now()).toBe(500);
  });

  it('resets the backoff only after a connection was stable', () => {
    const { client, last } = setup({ backoff: { initialMs: 1000, maxMs: 60_000, factor: 2 }, stableMs: 5000 });
    client.start();
    last().drop();
    vi.advanceTimersByTime(1000);
    last().drop();
    vi.advanceTimersByTime(2000);
    expect(client.getSnapshot().attempt).toBe(2);
    // Opens but dies at once (flapping): keeps growing.
    last().open();
    vi.advanceTimersByTime(100);
    last().drop();
    expect(client.getSnapshot().retryAt! - Date.now()).toBe(4000);
    vi.advanceTimersByTime(4000);
    // Opens and stays up long enough: next drop starts from the initial delay.
    last().open();
    vi.advanceTimersByTime(6000);
    last().drop();
    expect(client.getSnapshot().retryAt! - Date.now()).toBe(1000);
    expect(client.getSnapshot().status).toBe('offline');
  });

  it('signals a full refetch on lagged and continues from resume_from', () => {
    const { client, events, resyncs, last } = setup();
    client.start();
    last().open();
    last().receive(ev(3));
    // resume_from is the master's last id when it noticed the gap; events continue after it.
    last().receive({ type: 'lagged', missed: null, resume_from: 44 });
    expect(resyncs).toEqual(['lagged']);
    expect(client.lastId).toBe(44);
    last().receive(ev(45));
    last().receive(ev(46));
    expect(events.map((e) => e.id)).toEqual([3, 45, 46]);
    last().drop();
    vi.advanceTimersByTime(500);
    expect(last().url).toBe('ws://h/api/ws?since=46');
  });

  it('detects a restarted master (ids went backwards) and resyncs', () => {
    const { client, events, resyncs, last } = setup();
    client.start();
    last().open();
    last().receive(ev(900));
    last().drop();
    vi.advanceTimersByTime(500);
    expect(last().url).toBe('ws://h/api/ws?since=900');
    last().open();
    last().receive({ type: 'hello', last_id: 2 });
    expect(resyncs).toEqual(['server-reset']);
    expect(client.lastId).toBe(2);
    last().receive(ev(3));
    expect(events.map((e) => e.id)).toEqual([900, 3]);
  });

  it('resyncs when it reconnects without a resume point', () => {
    const { client, resyncs, last } = setup();
    client.start();
    last().open(); // no hello, no events
    last().drop();
    vi.advanceTimersByTime(500);
    expect(last().url).toBe('ws://h/api/ws');
    last().open();
    expect(resyncs).toEqual(['reconnected-without-resume']);
  });

  it('sends the topic subscription after opening', () => {
    const { client, last } = setup({ topics: ['node.*', 'user.*'] });
    client.start();
    last().open();
    expect(JSON.parse(last().sent[0]!)).toEqual({ type: 'subscribe', topics: ['node.*', 'user.*'] });
  });

  it('ignores garbage and reports control frames', () => {
    const control: unknown[] = [];
    const { client, events, last } = setup({ onControl: (f) => control.push(f) });
    client.start();
    last().open();
    last().receive('not json');
    last().receive('null');
    last().receive({ type: 'subscribed', topics: ['user.*'] });
    last().receive({ type: 'error', error: 'bad topic' });
    last().receive({ id: 'x', type: 'user.created' });
    expect(events).toEqual([]);
    expect(control).toEqual([
      { type: 'subscribed', topics: ['user.*'] },
      { type: 'error', error: 'bad topic' },
    ]);
  });

  it('refreshes the session before retrying a handshake that never opened', async () => {
    const beforeRetry = vi.fn(() => Promise.resolve(true));
    const { client, sockets, last } = setup({ beforeRetry });
    client.start();
    last().drop(); // refused handshake (expired cookie)
    await vi.advanceTimersByTimeAsync(500);
    expect(beforeRetry).toHaveBeenCalledTimes(1);
    expect(sockets).toHaveLength(2);
    last().open();
    last().drop(); // it had opened: no refresh needed
    await vi.advanceTimersByTimeAsync(1000);
    expect(beforeRetry).toHaveBeenCalledTimes(1);
    expect(sockets).toHaveLength(3);
  });

  it('re-checks the session when the master closes with 1008 (session ended)', async () => {
    const beforeRetry = vi.fn(() => Promise.resolve(true));
    const { client, sockets, last } = setup({ beforeRetry });
    client.start();
    last().open();
    last().receive({ type: 'error', error: 'the session has ended; log in again' });
    last().drop(1008);
    await vi.advanceTimersByTimeAsync(500);
    expect(beforeRetry).toHaveBeenCalledTimes(1);
    expect(sockets).toHaveLength(2);
  });

  it('still reconnects when beforeRetry fails', async () => {
    const { client, sockets, last } = setup({ beforeRetry: () => Promise.reject(new Error('offline')) });
    client.start();
    last().drop();
    await vi.advanceTimersByTimeAsync(500);
    expect(sockets).toHaveLength(2);
  });

  it('reconnectNow skips the pending delay but not an open socket', () => {
    const { client, sockets, last } = setup();
    client.start();
    client.reconnectNow();
    expect(sockets).toHaveLength(1); // socket in flight: no duplicate
    last().open();
    last().drop();
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(client.getSnapshot().retryAt! - Date.now());
      last().drop();
    }
    expect(sockets).toHaveLength(6);
    client.reconnectNow();
    expect(sockets).toHaveLength(7);
    expect(client.getSnapshot().retryAt).toBeNull();
    vi.advanceTimersByTime(120_000); // the cancelled timer must not fire a second socket
    expect(sockets).toHaveLength(7);
  });

  it('stop closes the socket and cancels retries', () => {
    const { client, sockets, last } = setup();
    client.start();
    last().open();
    const s = last();
    client.stop();
    expect(s.closedWith).toBe(1000);
    expect(client.getSnapshot().status).toBe('stopped');
    vi.advanceTimersByTime(120_000);
    expect(sockets).toHaveLength(1);
    // a stop while connecting closes the socket once it opens, without reviving the client
    client.start();
    const connecting = last();
    client.stop();
    expect(connecting.closedWith).toBeUndefined();
    connecting.open();
    expect(connecting.closedWith).toBe(1000);
    expect(client.getSnapshot().status).toBe('stopped');
    // and a stop during the backoff wait
    client.start();
    last().drop();
    client.stop();
    vi.advanceTimersByTime(120_000);
    expect(sockets).toHaveLength(3);
  });

  it('survives a socket constructor that throws', () => {
    let fail = true;
    const sockets: FakeSocket[] = [];
    const client = new LiveClient({
      url: () => 'ws://h/api/ws',
      createSocket: (url) => {
        if (fail) throw new Error('SecurityError');
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
      onEvent: () => undefined,
      onResync: () => undefined,
      random: () => 1,
    });
    client.start();
    expect(client.getSnapshot().attempt).toBe(1);
    fail = false;
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(1);
  });

  it('notifies subscribers only on change and lets them unsubscribe', () => {
    const { client, last } = setup();
    const listener = vi.fn();
    const off = client.subscribe(listener);
    client.start();
    const n = listener.mock.calls.length;
    last().receive({ type: 'subscribed', topics: [] });
    expect(listener.mock.calls.length).toBe(n);
    off();
    last().open();
    expect(listener.mock.calls.length).toBe(n);
  });
});
