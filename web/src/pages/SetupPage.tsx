import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, isApiError, errorMessage } from '../api/client';
import { resetSession } from '../api/hooks';
import { qk } from '../api/keys';
import type { AuthResponse } from '../api/types';
import { MIN_PASSWORD } from '../lib/validation';
import { AuthCard } from './AuthCard';

export default function SetupPage() {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [touched, setTouched] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [alreadyDone, setAlreadyDone] = useState(false);

  useEffect(() => {
    document.title = 'Set up · ContextBay';
  }, []);

  const usernameError = touched && !username.trim() ? 'Choose a username.' : null;
  const passwordError =
    touched && password.length < MIN_PASSWORD ? `Use at least ${MIN_PASSWORD} characters.` : null;
  const confirmError = touched && confirm !== password ? 'The passwords do not match.' : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!username.trim() || password.length < MIN_PASSWORD || confirm !== password) return;
    setPending(true);
    setError(null);
    try {
      const res = await api.post<AuthResponse>('/api/auth/setup', { username: username.trim(), password });
      resetSession(qc, { ...res.user, auth_method: 'cookie' });
      void qc.invalidateQueries({ queryKey: qk.me });
      navigate('/', { replace: true });
    } catch (err) {
      setPending(false);
      if (isApiError(err) && err.status === 409) {
        setAlreadyDone(true);
        void qc.invalidateQueries({ queryKey: qk.health });
      }
      setError(errorMessage(err));
    }
  };

  return (
    <AuthCard
      title="Welcome to ContextBay"
      subtitle="Create the first administrator account. You can add more users and API keys afterwards."
    >
      <form onSubmit={submit} noValidate data-testid="setup-form">
        <div className={`field${usernameError ? ' field-invalid' : ''}`}>
          <label htmlFor="setup-username">Admin username</label>
          <input
            id="setup-username"
            data-testid="setup-username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            aria-invalid={!!usernameError}
            autoFocus
          />
          {usernameError ? <p className="field-error">{usernameError}</p> : null}
        </div>
        <div className={`field${passwordError ? ' field-invalid' : ''}`}>
          <label htmlFor="setup-password">Password</label>
          <input
            id="setup-password"
            data-testid="setup-password"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-invalid={!!passwordError}
            aria-describedby="setup-password-hint"
          />
          <p className={passwordError ? 'field-error' : 'field-hint'} id="setup-password-hint">
            {passwordError ?? `At least ${MIN_PASSWORD} characters. ${password.length > 0 ? `(${password.length})` : ''}`}
          </p>
        </div>
        <div className={`field${confirmError ? ' field-invalid' : ''}`}>
          <label htmlFor="setup-confirm">Confirm password</label>
          <input
            id="setup-confirm"
            data-testid="setup-confirm"
            type="password"
            autoComplete="new-password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            aria-invalid={!!confirmError}
          />
          {confirmError ? <p className="field-error">{confirmError}</p> : null}
        </div>
        {error ? (
          <p className="form-error" role="alert" data-testid="setup-error">
            {alreadyDone ? 'Setup has already been completed. ' : ''}
            {error}
            {alreadyDone ? (
              <>
                {' '}
                <Link to="/login">Sign in instead</Link>.
              </>
            ) : null}
          </p>
        ) : null}
        <button type="submit" className="btn btn-primary btn-block" data-testid="setup-submit" disabled={pending}>
          {pending ? 'Creating account…' : 'Create admin account'}
        </button>
      </form>
    </AuthCard>
  );
}
