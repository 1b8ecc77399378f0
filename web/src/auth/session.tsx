// Session gating: first-run setup, sign-in, and role checks for routes.

import { createContext, useContext, type ReactNode } from 'react';
import { Navigate, Outlet, useLocation } from 'react-router';
import { errorMessage } from '../api/client';
import { useHealth, useMe } from '../api/hooks';
import type { Me, Role } from '../api/types';
import { Forbidden } from '../components/ui';
import { hasRole } from '../lib/roles';

export function Splash({ label = 'Loading ContextBay…' }: { label?: string }) {
  return (
    <div className="splash" role="status" aria-live="polite" data-testid="splash">
      <div className="brand-mark brand-mark-lg" aria-hidden="true" />
      <span className="spinner" aria-hidden="true" />
      <span className="muted">{label}</span>
    </div>
  );
}

function Unreachable({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  return (
    <div className="splash" role="alert" data-testid="unreachable">
      <div className="brand-mark brand-mark-lg" aria-hidden="true" />
      <h1>Cannot reach the ContextBay master</h1>
      <p className="muted">{errorMessage(error)}</p>
      <button type="button" className="btn btn-primary" onClick={onRetry}>
        Try again
      </button>
    </div>
  );
}

/** Root route: decides between first-run setup and the rest of the app. */
export function Boot() {
  const health = useHealth();
  const { pathname } = useLocation();

  if (health.isPending) return <Splash />;
  if (health.isError && !health.data) return <Unreachable error={health.error} onRetry={() => void health.refetch()} />;

  const setupRequired = health.data?.setup_required === true;
  if (setupRequired && pathname !== '/setup') return <Navigate to="/setup" replace />;
  if (!setupRequired && pathname === '/setup') return <Navigate to="/login" replace />;
  return <Outlet />;
}

const MeContext = createContext<Me | null>(null);

/** The signed-in user. Only valid below <RequireAuth>. */
export function useCurrentUser(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useCurrentUser outside <RequireAuth>');
  return me;
}

/** The signed-in user's role, or null outside a session (e.g. in isolated renders). */
export function useRole(): Role | null {
  return useContext(MeContext)?.role ?? null;
}

/** Provides a signed-in user to a subtree (the app does it in <RequireAuth>; tests directly). */
export const MeProvider = MeContext.Provider;

/** Whether the signed-in user has at least `role` (for hiding controls). */
export function useCan(role: Role): boolean {
  return hasRole(useContext(MeContext)?.role, role);
}

export function RequireAuth({ children }: { children: ReactNode }) {
  const me = useMe();
  const location = useLocation();

  if (me.isPending) return <Splash />;
  if (me.data === null || me.data === undefined) {
    if (me.isError) return <Unreachable error={me.error} onRetry={() => void me.refetch()} />;
    const next = location.pathname + location.search;
    return <Navigate to={next && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login'} replace />;
  }
  return <MeContext.Provider value={me.data}>{children}</MeContext.Provider>;
}

export function RequireRole({ role, children }: { role: Role; children: ReactNode }) {
  const me = useCurrentUser();
  if (!hasRole(me.role, role)) return <Forbidden needed={role} />;
  return <>{children}</>;
}

/** Only a same-app path is an acceptable post-login destination. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/login') || next.startsWith('/setup')) {
    return '/';
  }
  return next;
}
