// Small presentational building blocks shared by the pages.

import { useEffect, useState, type ReactNode } from 'react';
import { isApiError, errorMessage } from '../api/client';
import type { Role } from '../api/types';
import { formatDateTime, relativeTime } from '../lib/format';
import { ROLE_LABEL } from '../lib/roles';
import { useDocumentTitle } from '../shell/instance';
import { Icon, type IconName } from './Icon';

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  useDocumentTitle(title);
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {description ? <p className="page-description">{description}</p> : null}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </div>
  );
}

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return <span className="spinner" role="status" aria-label={label} />;
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" data-testid="loading">
      <Spinner />
      <span>{label}</span>
    </div>
  );
}

export function EmptyState({
  icon = 'box',
  title,
  children,
  action,
  testId = 'empty-state',
}: {
  icon?: IconName;
  title: string;
  children?: ReactNode;
  action?: ReactNode;
  testId?: string;
}) {
  return (
    <div className="state state-empty" data-testid={testId}>
      <div className="state-icon">
        <Icon name={icon} size={28} />
      </div>
      <h2>{title}</h2>
      {children ? <div className="state-text">{children}</div> : null}
      {action ? <div className="state-action">{action}</div> : null}
    </div>
  );
}

/** Shows a failed query. 403 gets an explicit permission message, never a blank page. */
export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (isApiError(error) && error.status === 403) {
    return <Forbidden detail={error.message} />;
  }
  return (
    <div className="state state-error" role="alert" data-testid="error-state">
      <div className="state-icon">
        <Icon name="alert" size={28} />
      </div>
      <h2>Something went wrong</h2>
      <p className="state-text">{errorMessage(error)}</p>
      {isApiError(error) && error.requestId ? <p className="muted small">Request id: <code>{error.requestId}</code></p> : null}
      {onRetry ? (
        <button type="button" className="btn" onClick={onRetry}>
          <Icon name="refresh" size={16} /> Try again
        </button>
      ) : null}
    </div>
  );
}

export function Forbidden({ detail, needed }: { detail?: string; needed?: Role }) {
  return (
    <div className="state state-forbidden" role="alert" data-testid="forbidden">
      <div className="state-icon">
        <Icon name="lock" size={28} />
      </div>
      <h2>You don't have permission to view this</h2>
      <p className="state-text">
        {needed ? `This page requires the ${ROLE_LABEL[needed].toLowerCase()} role.` : 'Your role does not allow this.'} Ask an
        administrator if you need access.
      </p>
      {detail ? <p className="muted small">Server said: {detail}</p> : null}
    </div>
  );
}

export function InlineError({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="form-error" role="alert">
      {errorMessage(error)}
    </p>
  );
}

export function RoleBadge({ role }: { role: Role }) {
  return <span className={`badge badge-role-${role}`}>{ROLE_LABEL[role] ?? role}</span>;
}

export type Tone = 'ok' | 'warn' | 'bad' | 'neutral' | 'info';

export function Badge({ tone = 'neutral', children, dot }: { tone?: Tone; children: ReactNode; dot?: boolean }) {
  return (
    <span className={`badge badge-${tone}`}>
      {dot ? <span className="dot" aria-hidden="true" /> : null}
      {children}
    </span>
  );
}

/** Ticks every 30 s so relative times stay right. */
function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(t);
  }, [intervalMs]);
  return now;
}

export function RelativeTime({ value, fallback = '—' }: { value: string | null | undefined; fallback?: string }) {
  const now = useNow();
  if (!value) return <span className="muted">{fallback}</span>;
  return (
    <time dateTime={value} title={formatDateTime(value)}>
      {relativeTime(value, now)}
    </time>
  );
}

export function Pagination({
  offset,
  limit,
  total,
  onChange,
  testId = 'pagination',
}: {
  offset: number;
  limit: number;
  total: number;
  onChange: (offset: number) => void;
  testId?: string;
}) {
  if (total <= 0) return null;
  const from = Math.min(total, offset + 1);
  const to = Math.min(total, offset + limit);
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <nav className="pagination" aria-label="Pagination" data-testid={testId}>
      <span className="muted">
        {from}–{to} of {total.toLocaleString()}
      </span>
      <div className="pagination-buttons">
        <button type="button" className="btn btn-sm" onClick={() => onChange(Math.max(0, offset - limit))} disabled={offset <= 0} aria-label="Previous page">
          <Icon name="chevronLeft" size={16} /> Prev
        </button>
        <span className="muted small" aria-live="polite">
          Page {page} / {pages}
        </span>
        <button type="button" className="btn btn-sm" onClick={() => onChange(offset + limit)} disabled={offset + limit >= total} aria-label="Next page">
          Next <Icon name="chevronRight" size={16} />
        </button>
      </div>
    </nav>
  );
}

/**
 * Copies text. `navigator.clipboard` needs a secure context, and self-hosted dashboards are
 * often reached over plain http on a LAN, so fall back to a hidden textarea + execCommand.
 */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function CopyButton({ text, label = 'Copy', testId }: { text: string; label?: string; testId?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = window.setTimeout(() => setState('idle'), 2000);
    return () => window.clearTimeout(t);
  }, [state]);
  return (
    <button
      type="button"
      className="btn btn-sm"
      data-testid={testId}
      onClick={async () => setState((await copyText(text)) ? 'copied' : 'failed')}
    >
      <Icon name={state === 'copied' ? 'check' : 'copy'} size={16} />
      <span aria-live="polite">{state === 'copied' ? 'Copied' : state === 'failed' ? 'Select and copy manually' : label}</span>
    </button>
  );
}

export function Field({
  label,
  htmlFor,
  hint,
  error,
  children,
}: {
  label: string;
  htmlFor: string;
  hint?: ReactNode;
  error?: string | null | undefined;
  children: ReactNode;
}) {
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {error ? (
        <p className="field-error" id={`${htmlFor}-error`}>
          {error}
        </p>
      ) : hint ? (
        <p className="field-hint" id={`${htmlFor}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}

export function Switch({
  checked,
  onChange,
  label,
  disabled,
  testId,
}: {
  checked: boolean;
  onChange: (next: boolean) => void;
  label: string;
  disabled?: boolean;
  testId?: string;
}) {
  return (
    <button
      type="button"
      role="switch"
      aria-checked={checked}
      aria-label={label}
      className="switch"
      disabled={disabled}
      data-testid={testId}
      onClick={() => onChange(!checked)}
    >
      <span className="switch-thumb" aria-hidden="true" />
    </button>
  );
}
