import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/client';
import { qk } from '../api/keys';
import { useCurrentUser } from '../auth/session';
import { Icon } from '../components/Icon';
import { RoleBadge } from '../components/ui';
import { onMenuKeyDown, usePopover } from '../components/usePopover';

export function UserMenu() {
  const me = useCurrentUser();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const pop = usePopover();
  const [leaving, setLeaving] = useState(false);

  useEffect(() => {
    if (pop.open) pop.panelRef.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
  }, [pop.open, pop.panelRef]);

  const logout = async () => {
    setLeaving(true);
    try {
      await api.post('/api/auth/logout', {});
    } catch {
      /* the session is dropped locally either way */
    }
    qc.clear();
    qc.setQueryData(qk.me, null);
    navigate('/login', { replace: true });
  };

  return (
    <div className="popover-anchor">
      <button type="button" className="user-button" {...pop.triggerProps} aria-haspopup="menu" data-testid="user-menu">
        <span className="avatar" aria-hidden="true">
          {me.username.slice(0, 1).toUpperCase()}
        </span>
        <span className="user-name">{me.username}</span>
        <Icon name="chevronDown" size={16} />
      </button>
      {pop.open ? (
        <div className="popover" id={pop.panelId} ref={pop.panelRef} role="menu" aria-label="Account" onKeyDown={onMenuKeyDown}>
          <div className="popover-header popover-user">
            <div>
              <strong>{me.username}</strong>
              <div className="small muted">Signed in with {me.auth_method === 'api_key' ? 'an API key' : me.auth_method === 'jwt' ? 'a token' : 'a session'}</div>
            </div>
            <RoleBadge role={me.role} />
          </div>
          <Link role="menuitem" className="menu-item" to="/keys" onClick={() => pop.close()}>
            <Icon name="key" size={16} /> My API keys
          </Link>
          <button type="button" role="menuitem" className="menu-item" onClick={() => void logout()} disabled={leaving} data-testid="logout">
            <Icon name="logout" size={16} /> {leaving ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      ) : null}
    </div>
  );
}
