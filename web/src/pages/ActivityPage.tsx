import { useMutation } from '@tanstack/react-query';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { useLocation } from 'react-router';
import { api, errorMessage } from '../api/client';
import { useActivity, useNotifications } from '../api/hooks';
import { useCan } from '../auth/session';
import { Icon, type IconName } from '../components/Icon';
import { useToast } from '../components/Toaster';
import { EmptyState, ErrorState, Loading, PageHeader, RelativeTime } from '../components/ui';
import { useLiveStatus } from '../live/LiveProvider';
import { describeEvent, eventCategory, type EventCategory } from '../lib/describe';
import { parseTime } from '../lib/format';
import { LEVEL_TONE, markSeen } from '../shell/NotificationsBell';

const FEED_LIMIT = 100;

const CATEGORY_ICON: Record<EventCategory, IconName> = {
  users: 'users',
  keys: 'key',
  settings: 'settings',
  auth: 'lock',
  notifications: 'bell',
  fleet: 'server',
  alerts: 'alert',
  other: 'activity',
};

const FILTERS: { id: EventCategory | 'all'; label: string }[] = [
  { id: 'all', label: 'All' },
  { id: 'fleet', label: 'Fleet' },
  { id: 'users', label: 'Users' },
  { id: 'keys', label: 'API keys' },
  { id: 'settings', label: 'Settings' },
  { id: 'auth', label: 'Sign-ins' },
  { id: 'notifications', label: 'Notifications' },
];

function ActivityFeed() {
  const feed = useActivity(FEED_LIMIT);
  const live = useLiveStatus();
  const [filter, setFilter] = useState<EventCategory | 'all'>('all');
  const items = useMemo(() => {
    const all = feed.data?.items ?? [];
    return filter === 'all' ? all : all.filter((e) => eventCategory(e.type) === filter);
  }, [feed.data, filter]);

  let body: ReactNode;
  if (feed.isPending) body = <Loading />;
  else if (feed.isError) body = <ErrorState error={feed.error} onRetry={() => void feed.refetch()} />;
  else if (items.length === 0)
    body = (
      <EmptyState icon="activity" title={filter === 'all' ? 'No activity yet' : 'Nothing in this category'} testId="activity-empty">
        <p>Changes to users, keys, settings and the fleet appear here the moment they happen.</p>
      </EmptyState>
    );
  else
    body = (
      <ol className="feed" data-testid="activity-feed" aria-live="polite" aria-relevant="additions">
        {items.map((e) => {
          const cat = eventCategory(e.type);
          return (
            <li key={e.id} className={`feed-item feed-${cat}`} data-testid="activity-item" data-event-type={e.type} data-event-id={e.id}>
              <span className="feed-icon" aria-hidden="true">
                <Icon name={CATEGORY_ICON[cat]} size={16} />
              </span>
              <div className="feed-text">
                <div>{describeEvent(e)}</div>
                <div className="small muted">
                  <code>{e.type}</code> · <RelativeTime value={e.ts} />
                </div>
              </div>
            </li>
          );
        })}
      </ol>
    );

  return (
    <section className="card" aria-labelledby="feed-h">
      <div className="card-header">
        <h2 id="feed-h" className="card-title">
          Activity
        </h2>
        <span className={`small ${live.status === 'online' ? 'text-ok' : 'muted'}`}>
          {live.status === 'online' ? '● updating live' : 'live updates paused'}
        </span>
      </div>
      <div className="chips" role="group" aria-label="Filter activity">
        {FILTERS.map((f) => (
          <button
            key={f.id}
            type="button"
            className={`chip${filter === f.id ? ' chip-active' : ''}`}
            aria-pressed={filter === f.id}
            onClick={() => setFilter(f.id)}
          >
            {f.label}
          </button>
        ))}
      </div>
      {body}
    </section>
  );
}

function NotificationsPanel() {
  const list = useNotifications(50);
  const canTest = useCan('operator');
  const toast = useToast();
  const live = useLiveStatus();
  const test = useMutation({
    mutationFn: () => api.post('/api/notifications/test', {}),
    // When live, the notification itself pops up a moment later; say something only if not.
    onSuccess: () => {
      if (live.status !== 'online') toast.info('Test notification requested', 'It appears here once delivered.');
    },
    onError: (e) => toast.error('Could not send the test notification', errorMessage(e)),
  });

  // What is on screen here counts as read.
  const newest = list.data?.items.reduce((m, n) => Math.max(m, parseTime(n.ts) ?? 0), 0) ?? 0;
  useEffect(() => {
    if (newest > 0) markSeen(newest);
  }, [newest]);

  let body: ReactNode;
  if (list.isPending) body = <Loading />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.items.length === 0)
    body = (
      <EmptyState icon="bell" title="No notifications" testId="notifications-empty">
        <p>Alerts, finished backups and other things worth knowing land here.</p>
      </EmptyState>
    );
  else
    body = (
      <ul className="notification-list" data-testid="notifications-list">
        {list.data.items.map((n) => (
          <li key={n.id} className={`notification notification-${LEVEL_TONE[n.level] ?? 'info'}`} data-testid="notification-item">
            <span className="dot" aria-hidden="true" />
            <div>
              <div className="notification-title">{n.title}</div>
              {n.body ? <div className="notification-body muted">{n.body}</div> : null}
              <div className="small muted">
                {n.level} · <RelativeTime value={n.ts} />
              </div>
            </div>
          </li>
        ))}
      </ul>
    );

  return (
    <section className="card" aria-labelledby="notifications" id="notifications-section">
      <div className="card-header">
        <h2 id="notifications" className="card-title" tabIndex={-1}>
          Notifications
        </h2>
        {canTest ? (
          <button type="button" className="btn btn-sm" onClick={() => test.mutate()} disabled={test.isPending} data-testid="notifications-test">
            <Icon name="send" size={16} /> {test.isPending ? 'Sending…' : 'Send test'}
          </button>
        ) : null}
      </div>
      {body}
    </section>
  );
}

export default function ActivityPage() {
  const { hash } = useLocation();
  useEffect(() => {
    if (hash === '#notifications') document.getElementById('notifications')?.focus();
  }, [hash]);

  return (
    <div className="page" data-testid="page-activity">
      <PageHeader title="Activity" description="What happened across the control plane, newest first, as it happens." />
      <div className="split">
        <ActivityFeed />
        <NotificationsPanel />
      </div>
    </div>
  );
}
