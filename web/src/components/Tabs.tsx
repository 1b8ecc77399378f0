// Accessible tabs (WAI-ARIA tabs pattern, automatic activation): arrow keys, Home and End move
// between tabs; only the selected tab is in the tab order.

import { useId, useRef, type KeyboardEvent, type ReactNode } from 'react';

export interface TabDef<T extends string> {
  id: T;
  label: ReactNode;
  disabled?: boolean;
  /** Tooltip, e.g. why a tab is disabled. */
  title?: string;
  testId?: string;
}

export function useTabIds(): string {
  return useId();
}

export function Tabs<T extends string>({
  tabs,
  value,
  onChange,
  label,
  idBase,
}: {
  tabs: readonly TabDef<T>[];
  value: T;
  onChange: (next: T) => void;
  label: string;
  idBase: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const enabled = tabs.filter((t) => !t.disabled);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = enabled.findIndex((t) => t.id === value);
    let next: number | null = null;
    if (e.key === 'ArrowRight') next = (i + 1) % enabled.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + enabled.length) % enabled.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = enabled.length - 1;
    if (next === null) return;
    e.preventDefault();
    const t = enabled[next];
    if (!t) return;
    onChange(t.id);
    ref.current?.querySelector<HTMLElement>(`#${CSS.escape(`${idBase}-tab-${t.id}`)}`)?.focus();
  };

  return (
    <div className="tabs" role="tablist" aria-label={label} ref={ref} onKeyDown={onKeyDown}>
      {tabs.map((t) => {
        const selected = t.id === value;
        return (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`${idBase}-tab-${t.id}`}
            aria-selected={selected}
            aria-controls={`${idBase}-panel-${t.id}`}
            tabIndex={selected ? 0 : -1}
            // aria-disabled (not disabled) so that the tooltip saying why still shows on hover.
            aria-disabled={t.disabled || undefined}
            title={t.title}
            className={`tab${selected ? ' tab-active' : ''}${t.disabled ? ' tab-disabled' : ''}`}
            data-testid={t.testId}
            onClick={() => {
              if (!t.disabled) onChange(t.id);
            }}
          >
            {t.label}
          </button>
        );
      })}
    </div>
  );
}

export function TabPanel({ idBase, id, children }: { idBase: string; id: string; children: ReactNode }) {
  return (
    <div role="tabpanel" id={`${idBase}-panel-${id}`} aria-labelledby={`${idBase}-tab-${id}`} className="tab-panel">
      {children}
    </div>
  );
}
