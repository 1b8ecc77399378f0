import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it, vi } from 'vitest';
import type { LiveEvent } from '../api/types';
import { activeModules, dispatchModuleEvent, enabledNames, moduleNav, moduleRoutes } from './registry';
import type { ModuleDescriptor } from './types';

const monitoring: ModuleDescriptor = {
  name: 'monitoring',
  routes: [{ path: 'monitoring', element: null }],
  nav: [
    { to: '/monitoring', label: 'Monitoring', icon: 'graph', testId: 'nav-monitoring' },
    { to: '/monitoring/targets', label: 'Targets', icon: 'plug', testId: 'nav-targets', section: 'Admin', role: 'admin' },
  ],
  live: vi.fn(),
};
const alerting: ModuleDescriptor = {
  name: 'alerting',
  routes: [{ path: 'alerts', element: null }],
  nav: [{ to: '/alerts', label: 'Alerts', icon: 'bell', testId: 'nav-alerts' }],
  live: vi.fn(),
};
const all = [monitoring, alerting];

describe('module registration', () => {
  it('knows which modules are on from /api/modules', () => {
    const on = enabledNames([
      { name: 'monitoring', enabled: true },
      { name: 'alerting', enabled: false },
    ]);
    expect([...on]).toEqual(['monitoring']);
    expect(activeModules(all, on)).toEqual([monitoring]);
    expect(enabledNames(undefined).size).toBe(0);
  });

  it('shows the nav entries of the modules that are on, by section', () => {
    const nav = moduleNav(all, new Set(['monitoring']));
    expect(nav.get('Observe')?.map((n) => n.testId)).toEqual(['nav-monitoring']);
    expect(nav.get('Admin')?.map((n) => n.testId)).toEqual(['nav-targets']);
    expect(moduleNav(all, new Set()).size).toBe(0);
    expect(moduleNav(all, new Set(['alerting', 'monitoring'])).get('Observe')?.map((n) => n.testId)).toEqual(['nav-monitoring', 'nav-alerts']);
  });

  it('calls the live handlers of the modules that are on only', () => {
    const qc = new QueryClient();
    const ev = { id: 1, type: 'alert.fired', payload: {} } as unknown as LiveEvent;
    dispatchModuleEvent(all, new Set(['alerting']), ev, qc);
    expect(alerting.live).toHaveBeenCalledWith(ev, qc);
    expect(monitoring.live).not.toHaveBeenCalled();
  });

  it('puts each module’s routes behind its gate', () => {
    const routes = moduleRoutes(all);
    expect(routes).toHaveLength(2);
    const first = routes[0]!;
    expect(first.children).toBe(monitoring.routes);
    expect((first.element as { props: { name: string } }).props.name).toBe('monitoring');
  });
});
