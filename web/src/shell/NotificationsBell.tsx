import { useCallback, useSyncExternalStore } from 'react';
import { Link } from 'react-router';
import { useNotifications } from '../api/hooks';
import type { NotificationItem } from '../api/types';
import { Icon } from '../components/Icon';
import { RelativeTime } from '../components/ui';
import { usePopover } from '../components/usePopover';
import { parseTime } from '../lib/format';

const SEEN_KEY = 'cb.notifications.seen';
const seenListeners = new Set<() => void>();

function readSeen(): number {
  try {
    return Number(localStorage.getItem(SEEN_KEY) ?? 0) || 0;
  } catch {
    return 0;
  }
}

/** Marks notifications up to `ts` (epoch ms) as read in this browser. */
export function markSeen(ts: number): void {
  if (ts <= readSeen()) return;
  try {
    localStorage.setItem(SEEN_KEY, String(ts));
  } catch {
    /* ignore */
  }
  for (const l of seenListeners) l();
}

function useSeen(): number {
  return useSyncExternalStore(
    useCallback((l: () => void) => {
      seenListeners.add(l);
      return () => seenListeners.delete(l);
    }, []),
    readSeen,
  );
}

export const LEVEL_TONE: Record<NotificationItem['level'], string> = { info: 'info', warning: 'warn', error: 'bad' };

export function NotificationsBell() {
  const list = useNotifications(20);
  const seen = useSeen();
  const pop = usePopover();
  const items = list.data?.items ?? [];
  const unread = items.filter((n) => (parseTime(n.ts) ?? 0) > seen).length;

  const toggle = () => {
    if (!pop.open) {
      const newest = Math.max(Date.now(), ...items.map((n) => parseTime(n.ts) ?? 0));
      markSeen(newest);
    }
    pop.triggerProps.onClick();
  };

  return (
    <div className="popover-anchor">
      <button
        type="button"
        className="icon-btn bell"
        ref={pop.triggerProps.ref}
        aria-expanded={pop.open}
        aria-controls={pop.panelId}
        onClick={toggle}
        aria-label={unread > 0 ? `Notifications, ${unread} unread` : 'Notifications'}
        data-testid="notifications-bell"
      >
        <Icon name="bell" />
        {unread > 0 ? (
          <span className="bell-badge" data-testid="notifications-unread">
            {unread > 9 ? '9+' : unread}
          </span>
        ) : null}
      </button>
      {pop.open ? (
        <div className="popover popover-wide" id={pop.panelId} ref={pop.panelRef} data-testid="notifications-panel">
          <div className="popover-header">
            <strong>Notifications</strong>
            <Link to="/activity#notifications" onClick={() => pop.close()}>
              View all
            </Link>
          </div>
          {list.isError ? (
            <p className="popover-empty form-error">Could not load notifications.</p>
          ) : items.length === 0 ? (
            <p className="popover-empty muted">{list.isPending ? 'Loading…' : 'No notifications yet.'}</p>
          ) : (
            <ul className="notification-list">
              {items.slice(0, 8).map((n) => (
                <li key={n.id} className={`notification notification-${LEVEL_TONE[n.level] ?? 'info'}`} data-testid="notification-item">
                  <span className="dot" aria-hidden="true" />
                  <div>
                    <div className="notification-title">{n.title}</div>
                    {n.body ? <div className="notification-body muted">{n.body}</div> : null}
                    <div className="small muted">
                      <RelativeTime value={n.ts} />
                    </div>
                  </div>
                </li>
              ))}
            </ul>
          )}
        </div>
      ) : null}
    </div>
  );
}
