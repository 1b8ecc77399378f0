// A container's log: followed live over /logs/ws (bounded buffer, pause, reconnect) or, with
// Follow off, the last N lines fetched once. Search filters what is shown in both modes.

import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { useContainerLogs } from '../../api/docker';
import { fetchMe } from '../../api/hooks';
import { Icon } from '../../components/Icon';
import { Badge, ErrorState, Loading, type Tone } from '../../components/ui';
import {
  containerStreamUrl,
  filterLines,
  LogFollower,
  probeHandshake,
  type BufferedLine,
  type FollowSnapshot,
  type FollowStatus,
} from '../../live/containerStreams';

const TAILS = [100, 500, 1000, 5000];
/** Lines kept while following; older ones fall out. */
export const FOLLOW_CAPACITY = 5_000;
/** How close to the bottom (px) still counts as "at the bottom" for auto-scroll. */
const STICK_PX = 24;

const STATUS: Record<FollowStatus, { label: string; tone: Tone }> = {
  idle: { label: 'Starting', tone: 'neutral' },
  connecting: { label: 'Connecting', tone: 'info' },
  live: { label: 'Live', tone: 'ok' },
  retrying: { label: 'Reconnecting', tone: 'warn' },
  ended: { label: 'Ended', tone: 'neutral' },
  failed: { label: 'Failed', tone: 'bad' },
  stopped: { label: 'Stopped', tone: 'neutral' },
};

const IDLE_SNAPSHOT: FollowSnapshot = { status: 'idle', lines: [], paused: false, pending: 0, dropped: 0, error: null, retryAt: null, attempt: 0 };
const noopSubscribe = () => () => undefined;

function useFollower(endpoint: string, id: string, tail: number, on: boolean): [LogFollower | null, FollowSnapshot] {
  const [follower, setFollower] = useState<LogFollower | null>(null);
  useEffect(() => {
    if (!on) {
      setFollower(null);
      return;
    }
    const f = new LogFollower({
      // History once; a reconnect asks for none so lines are not shown twice.
      url: (first) => containerStreamUrl('logs', id, { endpoint, tail: first ? tail : 0, timestamps: true }),
      capacity: FOLLOW_CAPACITY,
      diagnose: (url) => probeHandshake(url, fetchMe),
    });
    setFollower(f);
    f.start();
    return () => f.stop();
  }, [endpoint, id, tail, on]);
  const snap = useSyncExternalStore(follower ? follower.subscribe : noopSubscribe, follower ? follower.getSnapshot : () => IDLE_SNAPSHOT);
  return [follower, snap];
}

/** Whole seconds until `until` (epoch ms), re-rendering twice a second while counting down. */
function useSeconds(until: number | null): number | null {
  const [, tick] = useState(0);
  useEffect(() => {
    if (until === null) return;
    const t = window.setInterval(() => tick((n) => n + 1), 500);
    return () => window.clearInterval(t);
  }, [until]);
  // Read the clock at render: a value kept in state would be stale when `until` first arrives.
  return until === null ? null : Math.max(0, Math.ceil((until - Date.now()) / 1000));
}

const LogRow = memo(function LogRow({ l, timestamps }: { l: BufferedLine; timestamps: boolean }) {
  if (l.kind === 'marker')
    return (
      <div className="log-line log-marker" data-testid="log-marker">
        — {l.text} —
      </div>
    );
  return (
    <div className={`log-line${l.stream === 'stderr' ? ' log-stderr' : ''}`}>
      {timestamps && l.ts ? <span className="log-ts">{l.ts}</span> : null}
      <span className="log-text">{l.text}</span>
    </div>
  );
});

/**
 * The scrolling pane. It stays pinned to the newest line while the reader is at the bottom; once
 * they scroll up it holds still and offers a jump back.
 */
function LogPane({ lines, timestamps, emptyText }: { lines: readonly BufferedLine[]; timestamps: boolean; emptyText: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const [atBottom, setAtBottom] = useState(true);

  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const onScroll = () => {
    const el = ref.current;
    if (!el) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
    stick.current = bottom;
    if (bottom !== atBottom) setAtBottom(bottom);
  };

  const jump = () => {
    const el = ref.current;
    if (!el) return;
    stick.current = true;
    setAtBottom(true);
    el.scrollTop = el.scrollHeight;
  };

  return (
    <div className="log-pane">
      <div
        ref={ref}
        className="log-view"
        role="log"
        aria-label="Container log"
        aria-live="off"
        tabIndex={0}
        onScroll={onScroll}
        data-testid="logs-view"
      >
        {lines.length === 0 ? (
          <p className="muted log-empty" data-testid="logs-empty">
            {emptyText}
          </p>
        ) : (
          lines.map((l) => <LogRow key={l.seq} l={l} timestamps={timestamps} />)
        )}
      </div>
      {!atBottom && lines.length > 0 ? (
        <button type="button" className="btn btn-sm log-jump" onClick={jump} data-testid="logs-jump">
          <Icon name="chevronDown" size={14} /> Jump to latest
        </button>
      ) : null}
    </div>
  );
}

function FollowNote({ follower, snap }: { follower: LogFollower; snap: FollowSnapshot }) {
  const secs = useSeconds(snap.status === 'retrying' ? snap.retryAt : null);
  let body = null;
  if (snap.status === 'retrying')
    body = (
      <>
        <span>
          Disconnected from the log stream{snap.error ? ` (${snap.error})` : ''} — reconnecting{secs ? ` in ${secs} s` : '…'}
        </span>
        <button type="button" className="btn btn-sm" onClick={() => follower.reconnect()} data-testid="logs-reconnect">
          Reconnect now
        </button>
      </>
    );
  else if (snap.status === 'ended')
    body = (
      <>
        <span>The log ended: the container stopped. Following resumes when it starts again.</span>
        <button type="button" className="btn btn-sm" onClick={() => follower.reconnect()} data-testid="logs-reconnect">
          Follow again
        </button>
      </>
    );
  else if (snap.status === 'failed')
    body = (
      <>
        <span role="alert">{snap.error ?? 'The log stream failed.'}</span>
        <button type="button" className="btn btn-sm" onClick={() => follower.reconnect()} data-testid="logs-reconnect">
          <Icon name="refresh" size={14} /> Retry
        </button>
      </>
    );
  else if (snap.paused && snap.pending > 0)
    body = (
      <>
        <span>
          Paused — {snap.pending.toLocaleString()} new line{snap.pending === 1 ? '' : 's'} held back
        </span>
        <button type="button" className="btn btn-sm" onClick={() => follower.setPaused(false)}>
          Show them
        </button>
      </>
    );
  if (!body) return null;
  return (
    <div className={`log-note log-note-${snap.status === 'failed' ? 'bad' : snap.status === 'retrying' ? 'warn' : 'info'}`} data-testid="logs-note">
      {body}
    </div>
  );
}

/** Saves the shown lines (after the filter) as a text file. */
function download(lines: readonly BufferedLine[], timestamps: boolean, name: string): void {
  const text = lines.map((l) => (l.kind === 'marker' ? `— ${l.text} —` : timestamps && l.ts ? `${l.ts} ${l.text}` : l.text)).join('\n');
  const url = URL.createObjectURL(new Blob([text + '\n'], { type: 'text/plain;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `${name.replace(/[^\w.-]+/g, '_') || 'container'}.log`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

export function ContainerLogs({ endpoint, id, name, running }: { endpoint: string; id: string; name: string; running: boolean }) {
  const [tail, setTail] = useState(500);
  const [q, setQ] = useState('');
  const [timestamps, setTimestamps] = useState(false);
  // Follow a running container by default; a stopped one has nothing new to say.
  const [follow, setFollow] = useState(running);
  const [follower, snap] = useFollower(endpoint, id, tail, follow);
  const once = useContainerLogs(endpoint, id, tail, !follow);

  // Started again (from this page or elsewhere): pick the log up where it ended.
  const wasRunning = useRef(running);
  useEffect(() => {
    if (running && !wasRunning.current && follower && snap.status === 'ended') follower.reconnect();
    wasRunning.current = running;
  }, [running, follower, snap.status]);

  const snapshotLines = useMemo<BufferedLine[]>(
    () => (once.data?.items ?? []).map((l, i) => ({ seq: i + 1, kind: 'line', stream: l.stream, ts: l.ts ?? null, text: l.line })),
    [once.data],
  );
  const all = follow ? snap.lines : snapshotLines;
  const shown = useMemo(() => filterLines(all, q), [all, q]);
  const status = STATUS[snap.status];

  return (
    <section className="card logs-card" aria-labelledby="logs-h">
      <div className="card-header toolbar-wrap">
        <h2 id="logs-h" className="card-title logs-title">
          Logs
          {follow ? (
            <span data-testid="logs-status" data-status={snap.status} data-paused={snap.paused || undefined}>
              <Badge tone={snap.paused ? 'warn' : status.tone} dot={snap.status === 'live'}>
                {snap.paused && snap.status === 'live' ? 'Paused' : status.label}
              </Badge>
            </span>
          ) : (
            <span data-testid="logs-status" data-status="snapshot">
              <Badge>Snapshot</Badge>
            </span>
          )}
        </h2>
        <div className="row-actions">
          <div className="search search-sm">
            <Icon name="search" size={14} />
            <input
              type="search"
              placeholder="Filter lines…"
              aria-label="Filter log lines"
              value={q}
              onChange={(e) => setQ(e.target.value)}
              data-testid="logs-search"
            />
          </div>
          <label className="inline-field">
            <span>{follow ? 'History' : 'Last'}</span>
            <select value={tail} onChange={(e) => setTail(Number(e.target.value))} data-testid="logs-tail">
              {TAILS.map((t) => (
                <option key={t} value={t}>
                  {t} lines
                </option>
              ))}
            </select>
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.target.checked)} data-testid="logs-timestamps" />
            <span>Timestamps</span>
          </label>
          <label className="checkbox" title="Stream new lines as the container writes them">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} data-testid="logs-follow" />
            <span>Follow</span>
          </label>
          {follow && follower ? (
            <>
              <button
                type="button"
                className="btn btn-sm"
                onClick={() => follower.setPaused(!snap.paused)}
                aria-pressed={snap.paused}
                data-testid="logs-pause"
              >
                <Icon name={snap.paused ? 'play' : 'pause'} size={14} /> {snap.paused ? 'Resume' : 'Pause'}
              </button>
              <button type="button" className="btn btn-sm" onClick={() => follower.clear()} data-testid="logs-clear" title="Clear the view">
                <Icon name="x" size={14} /> Clear
              </button>
            </>
          ) : (
            <button type="button" className="btn btn-sm" onClick={() => void once.refetch()} disabled={once.isFetching} data-testid="logs-refresh">
              <Icon name="refresh" size={14} /> {once.isFetching ? 'Loading…' : 'Refresh'}
            </button>
          )}
          <button
            type="button"
            className="icon-btn icon-btn-sm"
            onClick={() => download(shown, timestamps, name)}
            disabled={shown.length === 0}
            aria-label="Download the shown lines"
            title="Download the shown lines"
            data-testid="logs-download"
          >
            <Icon name="download" size={15} />
          </button>
        </div>
      </div>
      {follow && follower ? <FollowNote follower={follower} snap={snap} /> : null}
      {!follow && once.isPending ? (
        <Loading />
      ) : !follow && once.isError ? (
        <ErrorState error={once.error} onRetry={() => void once.refetch()} />
      ) : (
        <LogPane
          lines={shown}
          timestamps={timestamps}
          emptyText={
            q
              ? 'No line matches the filter.'
              : follow
                ? snap.status === 'live'
                  ? 'Waiting for the container to write something…'
                  : snap.status === 'connecting' || snap.status === 'idle'
                    ? 'Connecting to the log stream…'
                    : 'No lines.'
                : 'The container has not logged anything.'
          }
        />
      )}
      <p className="muted small" data-testid="logs-count">
        {q ? `${shown.length.toLocaleString()} of ` : ''}
        {all.length.toLocaleString()} line{all.length === 1 ? '' : 's'}
        {follow ? ` · keeps the last ${FOLLOW_CAPACITY.toLocaleString()}` : ''}
        {follow && snap.dropped > 0 ? ` (${snap.dropped.toLocaleString()} older dropped)` : ''} · stderr in red
      </p>
    </section>
  );
}
