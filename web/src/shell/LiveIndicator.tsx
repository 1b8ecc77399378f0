import { useEffect, useState } from 'react';
import { useLiveClient, useLiveStatus } from '../live/LiveProvider';

/** "Live" / "Connecting…" / "Offline — retrying in N s"; click to retry at once. */
export function LiveIndicator() {
  const snap = useLiveStatus();
  const client = useLiveClient();
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    if (snap.retryAt === null) return;
    setNow(Date.now());
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, [snap.retryAt]);

  const secs = snap.retryAt !== null ? Math.max(0, Math.ceil((snap.retryAt - now) / 1000)) : null;
  let label: string;
  let tone: 'ok' | 'warn' | 'bad';
  switch (snap.status) {
    case 'online':
      label = 'Live';
      tone = 'ok';
      break;
    case 'offline':
      label = secs !== null && secs > 0 ? `Offline · retry in ${secs}s` : 'Offline · reconnecting…';
      tone = 'bad';
      break;
    default:
      label = snap.attempt > 0 && secs !== null && secs > 0 ? `Connecting · retry in ${secs}s` : 'Connecting…';
      tone = 'warn';
  }
  const title =
    snap.status === 'online'
      ? `Receiving live updates${snap.lastId !== null ? ` (last event #${snap.lastId})` : ''}`
      : 'Live updates are paused; the page shows the last known state. Click to reconnect now.';

  return (
    <button
      type="button"
      className={`live-indicator live-${tone}`}
      data-testid="live-indicator"
      data-status={snap.status}
      onClick={() => client.reconnectNow()}
      title={title}
      aria-label={`${label}. ${title}`}
    >
      <span className="live-dot" aria-hidden="true" />
      <span className="live-label" aria-live="polite">
        {label}
      </span>
    </button>
  );
}
