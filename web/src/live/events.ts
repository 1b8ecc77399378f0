// Live-events client for `/api/ws`.
//
// One long-lived WebSocket, authenticated by the session cookie. The client remembers the id of
// the last event it applied and, whenever the socket drops, reconnects forever with capped
// exponential backoff + jitter, resuming with `?since=<last id>` so nothing is missed. When the
// server cannot replay (it says `lagged`, or its ids went backwards because it restarted) the
// client asks its owner to refetch everything through `onResync`.
//
// It is framework-free: React reads it through `subscribe`/`getSnapshot`
// (useSyncExternalStore), tests drive it with a fake socket and fake timers.

import type { LiveEvent } from '../api/types';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';

/** `connecting`: first attempt, never been online. `offline`: was online, lost it, retrying. */
export type LiveStatus = 'idle' | 'connecting' | 'online' | 'offline' | 'stopped';

export interface LiveSnapshot {
  status: LiveStatus;
  /** Consecutive failed attempts since the last stable connection. */
  attempt: number;
  /** When the next reconnect attempt fires (epoch ms), if one is scheduled. */
  retryAt: number | null;
  /** Id of the last event applied; the resume point. */
  lastId: number | null;
}

export type ResyncReason = 'lagged' | 'server-reset' | 'reconnected-without-resume';

export type ControlFrame =
  | { type: 'hello'; last_id: number }
  | { type: 'lagged'; missed: number; resume_from: number }
  | { type: 'subscribed'; topics: string[] }
  | { type: 'error'; error: string };

/** The part of the browser WebSocket this client uses. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface LiveClientOptions {
  /** Builds the socket URL; `since` is the last applied event id, or null for a fresh start. */
  url: (since: number | null) => string;
  onEvent: (event: LiveEvent) => void;
  onResync: (reason: ResyncReason) => void;
  onControl?: (frame: ControlFrame) => void;
  /** Topic filters sent after connecting; omitted = all topics (the server's default). */
  topics?: string[];
  createSocket?: (url: string) => SocketLike;
  backoff?: BackoffOptions;
  random?: () => number;
  /** A connection that stayed open this long resets the backoff. */
  stableMs?: number;
  /**
   * Awaited before retrying after an attempt that never opened, or that the server closed with
   * 1008 (session ended). The browser hides the HTTP status of a refused handshake, and an
   * expired access cookie is the usual cause, so the app refreshes the session here. Errors are
   * ignored.
   */
  beforeRetry?: () => Promise<unknown>;
  now?: () => number;
}

const POLICY_VIOLATION = 1008;

export class LiveClient {
  private readonly opts: LiveClientOptions;
  private readonly backoff: BackoffOptions;
  private readonly stableMs: number;
  private readonly now: () => number;
  private socket: SocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private openedAt: number | null = null;
  private connectedSince: number | null = null;
  private beenOnline = false;
  private stopped = true;
  private snapshot: LiveSnapshot = { status: 'idle', attempt: 0, retryAt: null, lastId: null };
  private readonly listeners = new Set<() => void>();

  constructor(opts: LiveClientOptions) {
    this.opts = opts;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.stableMs = opts.stableMs ?? 5_000;
    this.now = opts.now ?? (() => Date.now());
  }

  // -- observable state -------------------------------------------------------------------

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): LiveSnapshot => this.snapshot;

  get lastId(): number | null {
    return this.snapshot.lastId;
  }

  private update(patch: Partial<LiveSnapshot>): void {
    const next = { ...this.snapshot, ...patch };
    if (
      next.status === this.snapshot.status &&
      next.attempt === this.snapshot.attempt &&
      next.retryAt === this.snapshot.retryAt &&
      next.lastId === this.snapshot.lastId
    ) {
      return;
    }
    this.snapshot = next;
    for (const l of this.listeners) l();
  }

  // -- lifecycle ----------------------------------------------------------------------------

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onmessage = s.onerror = s.onclose = null;
      const close = () => {
        try {
          s.close(1000, 'client stopped');
        } catch {
          /* already closed */
        }
      };
      // Closing a socket that is still connecting makes browsers log a warning; let it open first.
      if (s.readyState === 0) {
        s.onopen = close;
        s.onerror = () => undefined;
      } else {
        s.onopen = null;
        close();
      }
    }
    this.update({ status: 'stopped', retryAt: null });
  }

  /** Retry right away (network came back, tab became visible). No-op while connected. */
  reconnectNow(): void {
    if (this.stopped || this.socket) return;
    this.clearTimer();
    this.connect();
  }

  // -- connection ---------------------------------------------------------------------------

  private connect(): void {
    const since = this.snapshot.lastId;
    const create = this.opts.createSocket ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
    this.update({ status: this.beenOnline ? 'offline' : 'connecting', retryAt: null });
    this.openedAt = null;
    this.connectedSince = since;

    let socket: SocketLike;
    try {
      socket = create(this.opts.url(since));
    } catch {
      this.scheduleRetry(true);
      return;
    }
    this.socket = socket;

    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.openedAt = this.now();
      const reconnect = this.beenOnline;
      this.beenOnline = true;
      this.update({ status: 'online', retryAt: null });
      if (this.opts.topics && this.opts.topics.length > 0) {
        socket.send(JSON.stringify({ type: 'subscribe', topics: this.opts.topics }));
      }
      if (reconnect && since === null) this.opts.onResync('reconnected-without-resume');
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      this.handleMessage(ev.data);
    };
    socket.onerror = () => {
      /* a close event always follows; handled there */
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      const neverOpened = this.openedAt === null;
      if (!neverOpened && this.now() - (this.openedAt ?? 0) >= this.stableMs) {
        this.update({ attempt: 0 });
      }
      // 1008 (policy): the master ended the stream because the session ended.
      this.scheduleRetry(neverOpened || ev?.code === POLICY_VIOLATION);
    };
  }

  private scheduleRetry(checkSession: boolean): void {
    if (this.stopped) return;
    const attempt = this.snapshot.attempt;
    const delay = backoffDelay(attempt, this.backoff, this.opts.random);
    this.update({
      status: this.beenOnline ? 'offline' : 'connecting',
      attempt: attempt + 1,
      retryAt: this.now() + delay,
    });
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      if (checkSession && this.opts.beforeRetry) {
        this.opts
          .beforeRetry()
          .catch(() => undefined)
          .then(() => {
            if (!this.stopped && !this.socket && !this.timer) this.connect();
          });
      } else {
        this.connect();
      }
    }, delay);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  // -- frames -------------------------------------------------------------------------------

  private handleMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    const frame = msg as Record<string, unknown>;

    if (typeof frame.id === 'number' && typeof frame.type === 'string') {
      const last = this.snapshot.lastId;
      // Replays after a resume can overlap what we already applied.
      if (last !== null && frame.id <= last) return;
      this.update({ lastId: frame.id });
      const event: LiveEvent = {
        id: frame.id,
        type: frame.type,
        ts: typeof frame.ts === 'string' ? frame.ts : new Date(this.now()).toISOString(),
        payload: (frame.payload && typeof frame.payload === 'object' ? frame.payload : {}) as Record<string, unknown>,
      };
      this.opts.onEvent(event);
      return;
    }

    switch (frame.type) {
      case 'hello': {
        const serverLast = typeof frame.last_id === 'number' ? frame.last_id : null;
        if (serverLast === null) break;
        const since = this.connectedSince;
        if (since !== null && serverLast < since) {
          // The master restarted and its ids started over: our resume point is meaningless.
          this.update({ lastId: serverLast });
          this.opts.onResync('server-reset');
        } else if (this.snapshot.lastId === null) {
          this.update({ lastId: serverLast });
        }
        this.opts.onControl?.({ type: 'hello', last_id: serverLast });
        break;
      }
      case 'lagged': {
        const resumeFrom = typeof frame.resume_from === 'number' ? frame.resume_from : null;
        // The master's last event id when it noticed the gap; events continue after it.
        if (resumeFrom !== null && (this.snapshot.lastId === null || resumeFrom > this.snapshot.lastId)) {
          this.update({ lastId: resumeFrom });
        }
        this.opts.onResync('lagged');
        this.opts.onControl?.({
          type: 'lagged',
          missed: typeof frame.missed === 'number' ? frame.missed : 0,
          resume_from: resumeFrom ?? 0,
        });
        break;
      }
      case 'subscribed':
        this.opts.onControl?.({ type: 'subscribed', topics: Array.isArray(frame.topics) ? (frame.topics as string[]) : [] });
        break;
      case 'error':
        this.opts.onControl?.({ type: 'error', error: typeof frame.error === 'string' ? frame.error : 'unknown error' });
        break;
      default:
        break;
    }
  }

  /** Exposed for tests and diagnostics. */
  get socketState(): number | null {
    return this.socket ? this.socket.readyState : null;
  }
}

/** `ws(s)://<this host>/api/ws[?since=N]`. */
export function liveUrl(since: number | null, loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${loc.host}/api/ws${since !== null ? `?since=${since}` : ''}`;
}
