// What a dashboard module declares. A module (monitoring, alerting, …) is switched on and off on
// the master (`GET /api/modules`); its folder `web/src/modules/<name>/` exports one descriptor
// and `web/src/modules/index.ts` lists them. The router, the navigation and the live provider
// read that list: a module's pages, nav entries and live handlers exist only while it is on.

import type { QueryClient } from '@tanstack/react-query';
import type { RouteObject } from 'react-router';
import type { LiveEvent, Role } from '../api/types';
import type { IconName } from '../components/Icon';

export interface ModuleNavEntry {
  /** Absolute path, e.g. `/monitoring`. */
  to: string;
  label: string;
  icon: IconName;
  testId: string;
  /** The least role that sees the entry (the page itself should check too). */
  role?: Role;
  /** The navigation section it goes in (default `Observe`). */
  section?: 'Fleet' | 'Observe' | 'Admin';
}

export interface ModuleDescriptor {
  /** The module's name on the master (`GET /api/modules` → `items[].name`). */
  name: string;
  /**
   * Routes under the signed-in shell (paths relative to `/`, e.g. `monitoring/query`); elements
   * should be lazy so a module costs nothing on the first load.
   */
  routes: RouteObject[];
  nav: ModuleNavEntry[];
  /**
   * Live events for the module (called after the shared cache reducer, only while the module
   * is on): patch or invalidate its queries here.
   */
  live?: (ev: LiveEvent, qc: QueryClient) => void;
}
