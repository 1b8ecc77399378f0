import type { ReactNode } from 'react';
import { useHealth } from '../api/hooks';
import { ThemeToggle } from '../shell/ThemeToggle';

/** The centred card used by sign-in and first-run setup. */
export function AuthCard({ title, subtitle, children }: { title: string; subtitle: ReactNode; children: ReactNode }) {
  const health = useHealth();
  return (
    <div className="auth-page">
      <div className="auth-theme">
        <ThemeToggle />
      </div>
      <main className="auth-card" id="main">
        <div className="auth-brand">
          <div className="brand-mark" aria-hidden="true" />
          <span className="brand-name">ContextBay</span>
        </div>
        <h1>{title}</h1>
        <p className="muted">{subtitle}</p>
        {children}
      </main>
      <footer className="auth-footer muted small">{health.data ? `ContextBay ${health.data.version}` : null}</footer>
    </div>
  );
}
