// Reads the module list against `GET /api/modules`: which modules are on, their nav entries, a
// gate for their routes and their live handlers.

import type { QueryClient } from '@tanstack/react-query';
import { Outlet } from 'react-router';
import { useModules } from '../api/hooks';
import type { LiveEvent, ModuleInfo } from '../api/types';
import { EmptyState, ErrorState, Loading } from '../components/ui';
import { MODULES } from './index';
import type { ModuleDescriptor, ModuleNavEntry } from './types';

/** Names of the modules `/api/modules` reports on (empty while unknown). */
export function enabledNames(items: readonly Pick<ModuleInfo, 'name' | 'enabled'>[] | undefined): Set<string> {
  return new Set((items ?? []).filter((m) => m.enabled).map((m) => m.name));
}

/** The registered modules that are on. */
export function activeModules(registered: readonly ModuleDescriptor[], enabled: ReadonlySet<string>): ModuleDescriptor[] {
  return registered.filter((m) => enabled.has(m.name));
}

/** Nav entries of the modules that are on, by section. */
export function moduleNav(registered: readonly ModuleDescriptor[], enabled: ReadonlySet<string>): Map<string, ModuleNavEntry[]> {
  const out = new Map<string, ModuleNavEntry[]>();
  for (const m of activeModules(registered, enabled)) {
    for (const n of m.nav) {
      const section = n.section ?? 'Observe';
      out.set(section, [...(out.get(section) ?? []), n]);
    }
  }
  return out;
}

/** Runs the live handlers of the modules that are on. */
export function dispatchModuleEvent(registered: readonly ModuleDescriptor[], enabled: ReadonlySet<string>, ev: LiveEvent, qc: QueryClient): void {
  for (const m of activeModules(registered, enabled)) m.live?.(ev, qc);
}

export function useEnabledModules(): Set<string> {
  const q = useModules();
  return enabledNames(q.data?.items);
}

/** Renders a module's pages only while it is on; a clear page otherwise. */
export function ModuleGate({ name }: { name: string }) {
  const q = useModules();
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} />;
  if (!enabledNames(q.data.items).has(name)) {
    return (
      <div className="page">
        <EmptyState icon="puzzle" title={`The ${name} module is off`} testId="module-off">
          <p>An administrator can switch it on under Settings &amp; modules.</p>
        </EmptyState>
      </div>
    );
  }
  return <Outlet />;
}

/** The router entries of every registered module, each behind its gate. */
export function moduleRoutes(registered: readonly ModuleDescriptor[] = MODULES) {
  return registered.map((m) => ({ element: <ModuleGate name={m.name} />, children: m.routes }));
}
