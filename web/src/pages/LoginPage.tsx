import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { api, isApiError, errorMessage } from '../api/client';
import { resetSession, useMe } from '../api/hooks';
import { qk } from '../api/keys';
import type { AuthResponse } from '../api/types';
import { safeNext, Splash } from '../auth/session';
import { AuthCard } from './AuthCard';

export default function LoginPage() {
  const me = useMe();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));

  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [lockedUntil, setLockedUntil] = useState<number | null>(null);
  const [now, setNow] = useState(() => Date.now());

  // Count the 429 lock-out down once a second.
  useEffect(() => {
    if (lockedUntil === null) return;
    const t = window.setInterval(() => {
      const n = Date.now();
      setNow(n);
      if (n >= lockedUntil) {
        setLockedUntil(null);
        setError(null);
      }
    }, 250);
    return () => window.clearInterval(t);
  }, [lockedUntil]);

  useEffect(() => {
    document.title = 'Sign in · ContextBay';
  }, []);

  if (me.isPending) return <Splash />;
  if (me.data) return <Navigate to={next} replace />;

  const remaining = lockedUntil !== null ? Math.max(0, Math.ceil((lockedUntil - now) / 1000)) : 0;
  const locked = remaining > 0;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!username.trim() || !password) {
      setError('Enter your username and password.');
      return;
    }
    setPending(true);
    setError(null);
    try {
      const res = await api.post<AuthResponse>('/api/auth/login', { username: username.trim(), password });
      resetSession(qc, { ...res.user, auth_method: 'cookie' });
      void qc.invalidateQueries({ queryKey: qk.me });
      navigate(next, { replace: true });
    } catch (err) {
      setPending(false);
      setPassword('');
      if (isApiError(err) && err.status === 429) {
        const secs = err.retryAfter ?? 30;
        setLockedUntil(Date.now() + secs * 1000);
        setNow(Date.now());
        setError('too many attempts');
      } else {
        setError(errorMessage(err));
      }
    }
  };

  return (
    <AuthCard title="Sign in" subtitle="Sign in to your ContextBay control plane.">
      <form onSubmit={submit} noValidate data-testid="login-form">
        <div className="field">
          <label htmlFor="login-username">Username</label>
          <input
            id="login-username"
            data-testid="login-username"
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            autoFocus
            required
          />
        </div>
        <div className="field">
          <label htmlFor="login-password">Password</label>
          <input
            id="login-password"
            data-testid="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </div>
        {error ? (
          <p className="form-error" role="alert" data-testid="login-error">
            {locked ? `Too many attempts, retry in ${remaining} s.` : error}
          </p>
        ) : null}
        <button type="submit" className="btn btn-primary btn-block" data-testid="login-submit" disabled={pending || locked}>
          {pending ? 'Signing in…' : locked ? `Retry in ${remaining} s` : 'Sign in'}
        </button>
      </form>
    </AuthCard>
  );
}
