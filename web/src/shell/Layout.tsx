import { Suspense, useEffect, useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
import { useHealth, useSetting } from '../api/hooks';
import type { Role } from '../api/types';
import { useCan, useCurrentUser } from '../auth/session';
import { Icon, type IconName } from '../components/Icon';
import { useToast } from '../components/Toaster';
import { Loading } from '../components/ui';
import { LiveProvider, useLiveEvents } from '../live/LiveProvider';
import { notificationFromEvent } from '../live/reducer';
import { hasRole } from '../lib/roles';
import { MODULES } from '../modules';
import { moduleNav, useEnabledModules } from '../modules/registry';
import { setInstanceDefaultTheme } from '../lib/theme';
import { DEFAULT_INSTANCE_NAME, InstanceNameContext } from './instance';
import { LiveIndicator } from './LiveIndicator';
import { NotificationsBell } from './NotificationsBell';
import { ThemeToggle } from './ThemeToggle';
import { UserMenu } from './UserMenu';

interface NavItem {
  to: string;
  label: string;
  icon: IconName;
  testId: string;
  role?: Role;
}

interface NavSection {
  title: string;
  items: NavItem[];
}

export const NAV: NavSection[] = [
  {
    title: 'Fleet',
    items: [
      { to: '/fleet', label: 'Fleet', icon: 'server', testId: 'nav-fleet' },
      { to: '/hosts', label: 'Hosts', icon: 'cpu', testId: 'nav-hosts' },
      { to: '/containers', label: 'Containers', icon: 'box', testId: 'nav-containers' },
      { to: '/stacks', label: 'Stacks', icon: 'layers', testId: 'nav-stacks' },
      { to: '/images', label: 'Images', icon: 'image', testId: 'nav-images' },
      { to: '/volumes', label: 'Volumes', icon: 'database', testId: 'nav-volumes' },
      { to: '/networks', label: 'Networks', icon: 'network', testId: 'nav-networks' },
    ],
  },
  {
    title: 'Observe',
    items: [{ to: '/activity', label: 'Activity', icon: 'activity', testId: 'nav-activity' }],
  },
  {
    title: 'Admin',
    items: [
      { to: '/admin/users', label: 'Users', icon: 'users', testId: 'nav-users', role: 'admin' },
      { to: '/keys', label: 'API keys', icon: 'key', testId: 'nav-keys' },
      { to: '/admin/audit', label: 'Audit log', icon: 'list', testId: 'nav-audit', role: 'admin' },
      { to: '/admin/settings', label: 'Settings & modules', icon: 'settings', testId: 'nav-settings', role: 'admin' },
      { to: '/admin/endpoints', label: 'Docker endpoints', icon: 'plug', testId: 'nav-endpoints', role: 'admin' },
      { to: '/admin/subcontainers', label: 'Sub-containers', icon: 'box', testId: 'nav-subcontainers', role: 'admin' },
      { to: '/admin/system', label: 'System', icon: 'info', testId: 'nav-system', role: 'admin' },
    ],
  },
];

function Sidebar({ onNavigate }: { onNavigate: () => void }) {
  const me = useCurrentUser();
  const health = useHealth();
  const fromModules = moduleNav(MODULES, useEnabledModules());
  return (
    <nav className="sidebar-nav" aria-label="Main">
      {NAV.map((section) => {
        const all = [...section.items, ...(fromModules.get(section.title) ?? [])];
        const items = all.filter((i) => !i.role || hasRole(me.role, i.role));
        if (items.length === 0) return null;
        return (
          <div className="nav-section" key={section.title}>
            <h2 className="nav-section-title">{section.title}</h2>
            <ul>
              {items.map((item) => (
                <li key={item.to}>
                  <NavLink to={item.to} className="nav-link" data-testid={item.testId} onClick={onNavigate}>
                    <Icon name={item.icon} />
                    <span>{item.label}</span>
                  </NavLink>
                </li>
              ))}
            </ul>
          </div>
        );
      })}
      <div className="sidebar-footer muted small">{health.data ? `v${health.data.version}` : null}</div>
    </nav>
  );
}

/** Pops a toast for live notifications so they are noticed on any page. */
function LiveToasts() {
  const toast = useToast();
  useLiveEvents((ev) => {
    if (ev.type !== 'notification') return;
    const n = notificationFromEvent(ev);
    toast.show(n.level === 'error' ? 'error' : n.level === 'warning' ? 'warning' : 'info', n.title, n.body || undefined);
  });
  return null;
}

export function Layout() {
  const isAdmin = useCan('admin');
  // Both settings are admin-only on the API; others see the defaults.
  const name = useSetting<string>('ui.instance_name', isAdmin);
  const defaultTheme = useSetting<string>('ui.default_theme', isAdmin);
  const instanceName = typeof name.data?.value === 'string' && name.data.value.trim() ? name.data.value.trim() : DEFAULT_INSTANCE_NAME;
  const [navOpen, setNavOpen] = useState(false);
  const location = useLocation();

  useEffect(() => {
    setInstanceDefaultTheme(defaultTheme.data?.value);
  }, [defaultTheme.data?.value]);

  useEffect(() => setNavOpen(false), [location.pathname]);

  return (
    <InstanceNameContext.Provider value={instanceName}>
      <LiveProvider>
        <LiveToasts />
        <a href="#main" className="skip-link">
          Skip to content
        </a>
        <div className={`shell${navOpen ? ' nav-open' : ''}`}>
          <aside className="sidebar" aria-label="Sidebar">
            <div className="sidebar-brand">
              <div className="brand-mark" aria-hidden="true" />
              <span className="brand-name" data-testid="instance-name" title={instanceName}>
                {instanceName}
              </span>
            </div>
            <Sidebar onNavigate={() => setNavOpen(false)} />
          </aside>
          <div className="nav-scrim" onClick={() => setNavOpen(false)} aria-hidden="true" />
          <div className="main-column">
            <header className="topbar">
              <button
                type="button"
                className="icon-btn nav-toggle"
                aria-label={navOpen ? 'Close navigation' : 'Open navigation'}
                aria-expanded={navOpen}
                onClick={() => setNavOpen((o) => !o)}
              >
                <Icon name={navOpen ? 'x' : 'menu'} />
              </button>
              <div className="topbar-title" aria-hidden="true">
                {instanceName}
              </div>
              <div className="topbar-actions">
                <LiveIndicator />
                <NotificationsBell />
                <ThemeToggle />
                <UserMenu />
              </div>
            </header>
            <main className="content" id="main" tabIndex={-1}>
              <Suspense fallback={<Loading />}>
                <Outlet />
              </Suspense>
            </main>
          </div>
        </div>
      </LiveProvider>
    </InstanceNameContext.Provider>
  );
}
