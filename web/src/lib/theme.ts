// Theme: an explicit choice of this browser (localStorage) wins; otherwise the instance default
// (setting `ui.default_theme`, readable by admins only), otherwise the OS preference.

import { useCallback, useSyncExternalStore } from 'react';

export type Theme = 'dark' | 'light';

const STORAGE_KEY = 'cb.theme';
const listeners = new Set<() => void>();
let instanceDefault: Theme | null = null;

function readStored(): Theme | null {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === 'dark' || v === 'light' ? v : null;
  } catch {
    return null;
  }
}

function systemTheme(): Theme {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark';
}

export function currentTheme(): Theme {
  return readStored() ?? instanceDefault ?? systemTheme();
}

export function applyTheme(): void {
  const t = currentTheme();
  document.documentElement.dataset.theme = t;
  document.documentElement.style.colorScheme = t;
  for (const l of listeners) l();
}

export function setTheme(t: Theme): void {
  try {
    localStorage.setItem(STORAGE_KEY, t);
  } catch {
    /* private mode: still applies for this page */
  }
  applyTheme();
}

export function setInstanceDefaultTheme(t: unknown): void {
  const next = t === 'dark' || t === 'light' ? t : null;
  if (next === instanceDefault) return;
  instanceDefault = next;
  applyTheme();
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function useTheme(): [Theme, () => void] {
  const theme = useSyncExternalStore(subscribe, currentTheme, () => 'dark' as Theme);
  const toggle = useCallback(() => setTheme(currentTheme() === 'dark' ? 'light' : 'dark'), []);
  return [theme, toggle];
}

export function watchSystemTheme(): void {
  if (typeof matchMedia !== 'function') return;
  matchMedia('(prefers-color-scheme: light)').addEventListener('change', () => {
    if (!readStored()) applyTheme();
  });
}
