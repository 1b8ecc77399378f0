// An interactive shell in a container (admins only): xterm.js on /exec/ws. Loaded on demand, so
// xterm.js and its stylesheet are only fetched when someone opens the Terminal tab.

import './terminal.css';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal, type ITheme } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { fetchMe } from '../../api/hooks';
import { Icon } from '../../components/Icon';
import { Badge, type Tone } from '../../components/ui';
import { containerStreamUrl, ExecSession, probeHandshake, type ExecSnapshot, type ExecStatus } from '../../live/containerStreams';

const SHELLS = ['/bin/sh', '/bin/bash', '/bin/ash'];

const STATUS: Record<ExecStatus, { label: string; tone: Tone }> = {
  connecting: { label: 'Connecting', tone: 'info' },
  open: { label: 'Connected', tone: 'ok' },
  exited: { label: 'Exited', tone: 'neutral' },
  closed: { label: 'Disconnected', tone: 'warn' },
  failed: { label: 'Failed', tone: 'bad' },
};

/** The terminal's colours from the app's theme variables, so it follows dark/light. */
function themeFromCss(): ITheme {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    background: v('--code-bg', '#0e131a'),
    foreground: v('--text', '#e6ebf1'),
    cursor: v('--accent', '#4c8dff'),
    cursorAccent: v('--code-bg', '#0e131a'),
    selectionBackground: v('--accent-soft', 'rgba(76,141,255,0.3)'),
  };
}

const CONNECTING: ExecSnapshot = { status: 'connecting', exitCode: null, error: null };
const noopSubscribe = () => () => undefined;

export default function ContainerTerminal({ endpoint, id }: { endpoint: string; id: string }) {
  const hostRef = useRef<HTMLDivElement>(null);
  const [cmd, setCmd] = useState(SHELLS[0]!);
  // A new value starts a new session (after an exit, or with another shell).
  const [generation, setGeneration] = useState(0);
  const [session, setSession] = useState<ExecSession | null>(null);
  const snap = useSyncExternalStore(session ? session.subscribe : noopSubscribe, session ? session.getSnapshot : () => CONNECTING);

  useEffect(() => {
    const host = hostRef.current;
    if (!host) return;
    const mono = getComputedStyle(document.documentElement).getPropertyValue('--mono').trim();
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: mono || 'monospace',
      fontSize: 13,
      lineHeight: 1.15,
      scrollback: 5_000,
      theme: themeFromCss(),
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host);
    try {
      fit.fit();
    } catch {
      /* not laid out yet: the default 80×24 */
    }
    const s = new ExecSession({
      url: containerStreamUrl('exec', id, { endpoint, cmd, rows: term.rows, cols: term.cols }),
      onOutput: (data) => term.write(data),
      diagnose: (url) => probeHandshake(url, fetchMe),
    });
    setSession(s);
    const input = term.onData((d) => s.input(d));
    const resize = term.onResize(({ rows, cols }) => s.resize(rows, cols));
    let reported = false;
    const unsubscribe = s.subscribe(() => {
      const { status, exitCode, error } = s.getSnapshot();
      if (status === 'open') {
        // Sizes chosen before the socket opened were sent in the URL; re-send in case the pane
        // changed size while connecting.
        s.resize(term.rows, term.cols);
      } else if (!reported && (status === 'exited' || status === 'closed' || status === 'failed')) {
        reported = true;
        const msg =
          status === 'exited'
            ? `process exited${exitCode === null ? '' : ` with code ${exitCode}`}`
            : status === 'failed'
              ? (error ?? 'the terminal failed')
              : `disconnected${error ? ` (${error})` : ''}`;
        term.write(`\r\n\x1b[2m[${msg}]\x1b[0m\r\n`);
      }
    });
    const observer = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        /* hidden */
      }
    });
    observer.observe(host);
    const themeWatch = new MutationObserver(() => {
      term.options.theme = themeFromCss();
    });
    themeWatch.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    term.focus();
    return () => {
      themeWatch.disconnect();
      observer.disconnect();
      unsubscribe();
      input.dispose();
      resize.dispose();
      s.close();
      term.dispose();
    };
  }, [endpoint, id, cmd, generation]);

  const status = STATUS[snap.status];
  const ended = snap.status === 'exited' || snap.status === 'closed' || snap.status === 'failed';
  return (
    <section className="card terminal-card" aria-labelledby="term-h">
      <div className="card-header toolbar-wrap">
        <h2 id="term-h" className="card-title logs-title">
          Terminal
          <span data-testid="terminal-status" data-status={snap.status} data-exit-code={snap.exitCode ?? undefined}>
            <Badge tone={snap.status === 'exited' && snap.exitCode !== 0 && snap.exitCode !== null ? 'warn' : status.tone} dot={snap.status === 'open'}>
              {snap.status === 'exited' ? `Exited${snap.exitCode === null ? '' : ` · code ${snap.exitCode}`}` : status.label}
            </Badge>
          </span>
        </h2>
        <div className="row-actions">
          <label className="inline-field">
            <span>Shell</span>
            <select value={cmd} onChange={(e) => setCmd(e.target.value)} data-testid="terminal-shell">
              {SHELLS.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className={ended ? 'btn btn-sm btn-primary' : 'btn btn-sm'}
            onClick={() => setGeneration((g) => g + 1)}
            data-testid="terminal-restart"
          >
            <Icon name="refresh" size={14} /> {ended ? 'New session' : 'Restart'}
          </button>
        </div>
      </div>
      {snap.status === 'failed' && snap.error ? (
        <p className="form-error" role="alert" data-testid="terminal-error">
          {snap.error}
        </p>
      ) : null}
      <div className="terminal-host" ref={hostRef} data-testid="terminal" aria-label="Container terminal" />
      <p className="muted small">
        Runs <code>{cmd}</code> in the container as its default user. Each session is recorded as a <code>container.exec</code> event.
      </p>
    </section>
  );
}
