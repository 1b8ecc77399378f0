// Clients for a container's own WebSockets: `/api/containers/{id}/logs/ws` (follow the log) and
// `/api/containers/{id}/exec/ws` (an interactive shell, admin only). Both authenticate with the
// session cookie at the handshake. Frames, server → client:
//   {"type":"log","stream","ts","line"} · {"type":"end"} (the log ended: the container stopped)
//   {"type":"output","data"} · {"type":"exit","code"} · {"type":"error","error"}
// client → server (exec): {"type":"input","data"} · {"type":"resize","rows","cols"}.
//
// Framework-free like the live-events client: React reads them through subscribe/getSnapshot,
// tests drive them with a fake socket and fake timers.

import { backoffDelay, type BackoffOptions } from './backoff';
import type { SocketLike } from './events';

export type StreamKind = 'logs' | 'exec';

/** The WebSocket URL of a container stream on the page's own origin. */
export function containerStreamUrl(
  kind: StreamKind,
  id: string,
  query: Record<string, string | number | boolean | null | undefined>,
  loc: Pick<Location, 'protocol' | 'host'> = window.location,
): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const qs = params.toString();
  return `${scheme}://${loc.host}/api/containers/${encodeURIComponent(id)}/${kind}/ws${qs ? `?${qs}` : ''}`;
}

/**
 * The same URL over HTTP. The browser hides why a handshake was refused; a plain GET of the
 * handshake URL runs the same checks (container, endpoint, role, node policy) and answers with the
 * API's `error` text, which is what the page shows.
 */
export function handshakeProbeUrl(wsUrl: string): string {
  return wsUrl.replace(/^ws(s?):/, 'http$1:');
}

// ---------------------------------------------------------------------------------------------
// Log buffer

export interface BufferedLine {
  /** Monotonic per buffer: a stable React key and the order of arrival. */
  seq: number;
  kind: 'line' | 'marker';
  stream: string;
  ts: string | null;
  text: string;
}

/**
 * The last `capacity` lines of a log. Appending is amortised O(1): the backing array is cut back
 * to `capacity` only once it holds twice that, and `view()` returns exactly the last `capacity`.
 */
export class LogBuffer {
  private items: BufferedLine[] = [];
  private nextSeq = 1;
  /** Lines that fell out of the buffer. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new Error('capacity must be positive');
  }

  push(kind: BufferedLine['kind'], text: string, stream = 'stdout', ts: string | null = null): BufferedLine {
    const line: BufferedLine = { seq: this.nextSeq++, kind, stream, ts, text };
    this.items.push(line);
    if (this.items.length >= this.capacity * 2) {
      const cut = this.items.length - this.capacity;
      this.items = this.items.slice(cut);
    }
    return line;
  }

  get size(): number {
    return Math.min(this.items.length, this.capacity);
  }

  /** Lines ever pushed. */
  get total(): number {
    return this.nextSeq - 1;
  }

  /** A fresh array of the buffered lines, oldest first. */
  view(): BufferedLine[] {
    const over = this.items.length - this.capacity;
    this.dropped = Math.max(this.dropped, this.total - this.capacity);
    return over > 0 ? this.items.slice(over) : this.items.slice();
  }

  clear(): void {
    this.items = [];
    this.dropped = 0;
  }
}

/** Lines whose text contains `query` (case-insensitive); markers stay so gaps remain visible. */
export function filterLines(lines: readonly BufferedLine[], query: string): readonly BufferedLine[] {
  const q = query.trim().toLowerCase();
  if (!q) return lines;
  return lines.filter((l) => l.kind === 'marker' || l.text.toLowerCase().includes(q));
}

// ---------------------------------------------------------------------------------------------
// Log follower

/**
 * `connecting`: opening the socket; `live`: following; `retrying`: the socket dropped, a
 * reconnect is scheduled; `ended`: the server said the log ended (the container stopped);
 * `failed`: the server sent an error, or refused the handshake (see `error`); `stopped`: closed by
 * its owner.
 */
export type FollowStatus = 'idle' | 'connecting' | 'live' | 'retrying' | 'ended' | 'failed' | 'stopped';

export interface FollowSnapshot {
  status: FollowStatus;
  /** What is shown: frozen while paused. */
  lines: readonly BufferedLine[];
  paused: boolean;
  /** Lines that arrived since the view was frozen by a pause. */
  pending: number;
  /** Lines that fell out of the bounded buffer. */
  dropped: number;
  error: string | null;
  /** When the next reconnect fires (epoch ms), while `retrying`. */
  retryAt: number | null;
  /** Consecutive failed attempts. */
  attempt: number;
}

export interface LogFollowerOptions {
  /** URL for an attempt; `first` is true for the very first one (history wanted). */
  url: (first: boolean) => string;
  capacity?: number;
  createSocket?: (url: string) => SocketLike;
  backoff?: BackoffOptions;
  random?: () => number;
  now?: () => number;
  /**
   * Runs `fn` before the next paint; lines arriving in one burst are shown in one render.
   * Default: requestAnimationFrame (setTimeout outside a browser).
   */
  schedule?: (fn: () => void) => void;
  /**
   * Asked when an attempt never opened: the API's reason (e.g. via `handshakeProbeUrl`), or null
   * when the endpoint looks fine and retrying makes sense (an expired session was refreshed, a
   * network blip).
   */
  diagnose?: (url: string) => Promise<string | null>;
}

const FOLLOW_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 15_000, factor: 2 };

const defaultSchedule = (fn: () => void) => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => fn());
  else setTimeout(fn, 16);
};

/** Follows one container's log with reconnects, a bounded buffer and pause. */
export class LogFollower {
  private readonly opts: LogFollowerOptions;
  private readonly buffer: LogBuffer;
  private readonly listeners = new Set<() => void>();
  private readonly now: () => number;
  private readonly schedule: (fn: () => void) => void;
  private socket: SocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private opened = false;
  private everOpened = false;
  private flushQueued = false;
  private pausedAtTotal = 0;
  private snap: FollowSnapshot;

  constructor(opts: LogFollowerOptions) {
    this.opts = opts;
    this.buffer = new LogBuffer(opts.capacity ?? 5_000);
    this.now = opts.now ?? Date.now;
    this.schedule = opts.schedule ?? defaultSchedule;
    this.snap = { status: 'idle', lines: [], paused: false, pending: 0, dropped: 0, error: null, retryAt: null, attempt: 0 };
  }

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  getSnapshot = (): FollowSnapshot => this.snap;

  start(): void {
    if (this.snap.status !== 'idle' && this.snap.status !== 'stopped') return;
    this.connect();
  }

  /** Closes the socket for good (the owner unmounted or turned follow off). */
  stop(): void {
    this.clearTimer();
    this.closeSocket();
    this.set({ status: 'stopped', retryAt: null });
  }

  /** A new attempt now, e.g. from a "Reconnect" button or when the container started again. */
  reconnect(): void {
    this.clearTimer();
    this.closeSocket();
    this.set({ attempt: 0 });
    this.connect();
  }

  setPaused(paused: boolean): void {
    if (paused === this.snap.paused) return;
    if (paused) {
      this.pausedAtTotal = this.buffer.total;
      this.set({ paused: true, pending: 0 });
    } else {
      this.set({ paused: false, pending: 0, lines: this.buffer.view(), dropped: this.buffer.dropped });
    }
  }

  /** Empties the view (the buffer too); following goes on. */
  clear(): void {
    this.buffer.clear();
    this.pausedAtTotal = this.buffer.total;
    this.set({ lines: [], pending: 0, dropped: 0 });
  }

  private connect(): void {
    const first = !this.everOpened;
    const url = this.opts.url(first);
    const create = this.opts.createSocket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    let socket: SocketLike;
    try {
      socket = create(url);
    } catch (e) {
      this.set({ status: 'failed', error: e instanceof Error ? e.message : String(e) });
      return;
    }
    this.socket = socket;
    this.opened = false;
    this.set({ status: 'connecting', error: null, retryAt: null });
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.opened = true;
      if (this.everOpened) this.marker('reconnected — lines logged while disconnected may be missing');
      this.everOpened = true;
      this.set({ status: 'live', attempt: 0 });
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      this.onFrame(ev.data);
    };
    socket.onerror = () => undefined;
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onClose(url, ev.code, ev.reason);
    };
  }

  private onFrame(data: unknown): void {
    if (typeof data !== 'string') return;
    let f: { type?: unknown; stream?: unknown; ts?: unknown; line?: unknown; error?: unknown };
    try {
      f = JSON.parse(data) as typeof f;
    } catch {
      return;
    }
    switch (f.type) {
      case 'log':
        this.buffer.push('line', typeof f.line === 'string' ? f.line : String(f.line ?? ''), typeof f.stream === 'string' ? f.stream : 'stdout', typeof f.ts === 'string' ? f.ts : null);
        this.queueFlush();
        break;
      case 'end':
        this.marker('the log ended — the container stopped');
        this.set({ status: 'ended' });
        break;
      case 'error':
        this.set({ status: 'failed', error: typeof f.error === 'string' ? f.error : 'the log stream failed' });
        break;
      default:
        break;
    }
  }

  private onClose(url: string, code: number, reason: string): void {
    const s = this.snap.status;
    if (s === 'ended' || s === 'failed' || s === 'stopped') return;
    if (!this.opened && this.opts.diagnose) {
      const attemptUrl = url;
      void this.opts
        .diagnose(attemptUrl)
        .catch(() => null)
        .then((why) => {
          if (this.snap.status !== 'connecting' || this.socket) return; // superseded meanwhile
          if (why) this.set({ status: 'failed', error: why });
          else this.retry(code, reason);
        });
      return;
    }
    if (this.opened) this.marker(`disconnected${reason ? ` (${reason})` : ''}`);
    this.retry(code, reason);
  }

  private retry(_code: number, reason: string): void {
    const attempt = this.snap.attempt;
    const delay = backoffDelay(attempt, this.opts.backoff ?? FOLLOW_BACKOFF, this.opts.random);
    this.set({ status: 'retrying', attempt: attempt + 1, retryAt: this.now() + delay, error: reason || null });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private marker(text: string): void {
    this.buffer.push('marker', text);
    this.queueFlush();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.schedule(() => {
      this.flushQueued = false;
      if (this.snap.paused) this.set({ pending: this.buffer.total - this.pausedAtTotal });
      else this.set({ lines: this.buffer.view(), dropped: this.buffer.dropped });
    });
  }

  private closeSocket(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close(1000, 'closed by the client');
      } catch {
        /* already closed */
      }
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private set(patch: Partial<FollowSnapshot>): void {
    this.snap = { ...this.snap, ...patch };
    for (const l of this.listeners) l();
  }
}

// ---------------------------------------------------------------------------------------------
// Exec session

/** `exited`: the shell ended (see `exitCode`, null when Docker did not say); `closed`: the socket ended without an exit frame. */
export type ExecStatus = 'connecting' | 'open' | 'exited' | 'closed' | 'failed';

export interface ExecSnapshot {
  status: ExecStatus;
  exitCode: number | null;
  error: string | null;
}

export interface ExecSessionOptions {
  url: string;
  onOutput: (data: string) => void;
  createSocket?: (url: string) => SocketLike;
  /** As for the log follower: the API's reason for a refused handshake. */
  diagnose?: (url: string) => Promise<string | null>;
}

/** One interactive exec over `/exec/ws`: output to `onOutput`, input and resizes back. */
export class ExecSession {
  private readonly opts: ExecSessionOptions;
  private readonly listeners = new Set<() => void>();
  private socket: SocketLike | null;
  private opened = false;
  private snap: ExecSnapshot = { status: 'connecting', exitCode: null, error: null };

  constructor(opts: ExecSessionOptions) {
    this.opts = opts;
    const create = opts.createSocket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    const socket = create(opts.url);
    this.socket = socket;
    socket.onopen = () => {
      this.opened = true;
      this.set({ status: 'open' });
    };
    socket.onmessage = (ev) => this.onFrame(ev.data);
    socket.onerror = () => undefined;
    socket.onclose = (ev) => {
      this.socket = null;
      if (this.snap.status === 'exited' || this.snap.status === 'failed') return;
      if (!this.opened && opts.diagnose) {
        void opts
          .diagnose(opts.url)
          .catch(() => null)
          .then((why) => this.set({ status: 'failed', error: why ?? 'the terminal could not connect' }));
        return;
      }
      this.set({ status: 'closed', error: ev.reason || (this.opened ? null : 'the terminal could not connect') });
    };
  }

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  getSnapshot = (): ExecSnapshot => this.snap;

  /** Keystrokes or pasted text. Dropped unless the session is open. */
  input(data: string): void {
    this.sendFrame({ type: 'input', data });
  }

  resize(rows: number, cols: number): void {
    if (rows > 0 && cols > 0) this.sendFrame({ type: 'resize', rows, cols });
  }

  close(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close(1000, 'closed by the client');
      } catch {
        /* already closed */
      }
    }
    if (this.snap.status === 'open' || this.snap.status === 'connecting') this.set({ status: 'closed' });
  }

  private sendFrame(frame: object): void {
    const s = this.socket;
    if (!s || this.snap.status !== 'open' || s.readyState !== 1) return;
    s.send(JSON.stringify(frame));
  }

  private onFrame(data: unknown): void {
    if (typeof data !== 'string') return;
    let f: { type?: unknown; data?: unknown; code?: unknown; error?: unknown };
    try {
      f = JSON.parse(data) as typeof f;
    } catch {
      return;
    }
    if (f.type === 'output' && typeof f.data === 'string') this.opts.onOutput(f.data);
    else if (f.type === 'exit') this.set({ status: 'exited', exitCode: typeof f.code === 'number' ? f.code : null });
    else if (f.type === 'error') this.set({ status: 'failed', error: typeof f.error === 'string' ? f.error : 'the terminal failed' });
  }

  private set(patch: Partial<ExecSnapshot>): void {
    this.snap = { ...this.snap, ...patch };
    for (const l of this.listeners) l();
  }
}

/**
 * `diagnose` for both streams: GETs the handshake URL. An answer other than the handshake's own
 * 400 ("WebSocket handshake failed") carries the API's reason (404, 403, 409 …); an answer of 401 means the session expired and
 * `refresh` gets a chance to renew it before the caller retries.
 */
export async function probeHandshake(
  wsUrl: string,
  refresh: () => Promise<unknown>,
  fetchImpl: typeof fetch = (i, init) => globalThis.fetch(i, init),
): Promise<string | null> {
  let res: Response;
  try {
    res = await fetchImpl(handshakeProbeUrl(wsUrl), { credentials: 'same-origin', headers: { accept: 'application/json' } });
  } catch {
    return null; // the network: worth retrying
  }
  if (res.status === 401) {
    await refresh();
    return null;
  }
  if (res.ok) return null;
  let text = '';
  try {
    const body = (await res.json()) as { error?: unknown };
    if (typeof body.error === 'string') text = body.error;
  } catch {
    /* not JSON */
  }
  // Every check passed and only the upgrade was missing: the refusal was something else.
  if (res.status === 400 && /handshake/i.test(text)) return null;
  if (res.status === 403) return `You don't have permission to do this${text ? ` (${text})` : ''}.`;
  return text || `the server answered ${res.status}`;
}
