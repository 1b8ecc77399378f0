// Owns the one live connection of the signed-in app and feeds the query cache from it.

import { useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useMemo, useRef, useSyncExternalStore, type ReactNode } from 'react';
import { fetchMe } from '../api/hooks';
import { qk } from '../api/keys';
import type { ItemList, LiveEvent, ModuleInfo } from '../api/types';
import { MODULES } from '../modules';
import { dispatchModuleEvent, enabledNames } from '../modules/registry';
import { LiveClient, liveUrl, type LiveSnapshot } from './events';
import { applyEvent, resyncAll } from './reducer';

type Listener = (ev: LiveEvent) => void;

export interface LiveContextValue {
  client: LiveClient;
  addListener: (l: Listener) => () => void;
}

/** Exported for tests, which provide listeners without a connection; the app uses <LiveProvider>. */
export const LiveContext = createContext<LiveContextValue | null>(null);

export function LiveProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const listeners = useRef(new Set<Listener>());

  const value = useMemo<LiveContextValue>(() => {
    const client = new LiveClient({
      url: (since) => liveUrl(since),
      onEvent: (ev) => {
        applyEvent(qc, ev);
        // The modules' own handlers, for the modules that are on (as last known).
        if (MODULES.length) dispatchModuleEvent(MODULES, enabledNames(qc.getQueryData<ItemList<ModuleInfo>>(qk.modules)?.items), ev, qc);
        for (const l of listeners.current) l(ev);
      },
      onResync: () => resyncAll(qc),
      // A refused handshake is most often an expired access cookie: asking for /me refreshes
      // it (or, if the session is gone for good, sends the app to the login page).
      beforeRetry: async () => {
        const me = await fetchMe();
        if (me === null) qc.setQueryData(qk.me, null);
      },
    });
    return {
      client,
      addListener: (l) => {
        listeners.current.add(l);
        return () => listeners.current.delete(l);
      },
    };
  }, [qc]);

  useEffect(() => {
    const { client } = value;
    client.start();
    const wake = () => client.reconnectNow();
    const onVisible = () => {
      if (document.visibilityState === 'visible') wake();
    };
    window.addEventListener('online', wake);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.removeEventListener('online', wake);
      document.removeEventListener('visibilitychange', onVisible);
      client.stop();
    };
  }, [value]);

  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

function useLiveContext(): LiveContextValue {
  const ctx = useContext(LiveContext);
  if (!ctx) throw new Error('useLive* must be used inside <LiveProvider>');
  return ctx;
}

const IDLE: LiveSnapshot = { status: 'idle', attempt: 0, retryAt: null, lastId: null };
const noop = () => () => undefined;

/** Connection state for indicators. Safe outside the provider (reports idle). */
export function useLiveStatus(): LiveSnapshot {
  const ctx = useContext(LiveContext);
  return useSyncExternalStore(ctx ? ctx.client.subscribe : noop, ctx ? ctx.client.getSnapshot : () => IDLE);
}

/** Calls `handler` for every live event (after the cache has been updated). */
export function useLiveEvents(handler: Listener): void {
  const { addListener } = useLiveContext();
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => addListener((ev) => ref.current(ev)), [addListener]);
}

/**
 * Like `useLiveEvents`, but a no-op outside a <LiveProvider> (shared components rendered on
 * their own, e.g. in tests).
 */
export function useOptionalLiveEvents(handler: Listener | null): void {
  const ctx = useContext(LiveContext);
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  const addListener = ctx?.addListener;
  useEffect(() => (addListener ? addListener((ev) => ref.current?.(ev)) : undefined), [addListener]);
}

export function useLiveClient(): LiveClient {
  return useLiveContext().client;
}
