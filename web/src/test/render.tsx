// Rendering components into jsdom for unit tests (files that start with
// `// @vitest-environment jsdom`), with the providers the dashboard has.

import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { MemoryRouter, useLocation } from 'react-router';
import type { Me, Role } from '../api/types';
import { MeProvider } from '../auth/session';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export interface Rendered {
  container: HTMLElement;
  /** The current location (path + search) of the memory router. */
  location: () => string;
  rerender: (ui: ReactNode) => Promise<void>;
  unmount: () => void;
}

let lastLocation = '';
function LocationSpy() {
  const l = useLocation();
  lastLocation = l.pathname + l.search;
  return null;
}

export function me(role: Role): Me {
  return { id: 'u1', username: `${role}-user`, role } as Me;
}

export async function render(ui: ReactNode, { url = '/', role = 'admin' as Role | null } = {}): Promise<Rendered> {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const root: Root = createRoot(container);
  const wrap = (node: ReactNode) => (
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[url]}>
        <MeProvider value={role ? me(role) : null}>
          <LocationSpy />
          {node}
        </MeProvider>
      </MemoryRouter>
    </QueryClientProvider>
  );
  await act(async () => root.render(wrap(ui)));
  return {
    container,
    location: () => lastLocation,
    rerender: async (next) => act(async () => root.render(wrap(next))),
    unmount: () => {
      act(() => root.unmount());
      container.remove();
    },
  };
}

export async function click(el: Element | null): Promise<void> {
  if (!el) throw new Error('nothing to click');
  await act(async () => (el as HTMLElement).click());
}

/** Types into an input the way React sees it (the native value setter, then an input event). */
export async function type(el: Element | null, value: string): Promise<void> {
  if (!(el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement)) throw new Error('not an input');
  const proto = el instanceof HTMLInputElement ? HTMLInputElement.prototype : HTMLTextAreaElement.prototype;
  await act(async () => {
    Object.getOwnPropertyDescriptor(proto, 'value')?.set?.call(el, value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}
