// The monitoring module's dashboard: fleet charts, the PromQL query page and Prometheus'
// targets. Registered in ../index.ts; shown only while the module is on.

import { lazy } from 'react';
import type { ModuleDescriptor } from '../types';

const FleetChartsPage = lazy(() => import('./FleetChartsPage'));
const QueryPage = lazy(() => import('./QueryPage'));
const TargetsPage = lazy(() => import('./TargetsPage'));

export const monitoring: ModuleDescriptor = {
  name: 'monitoring',
  routes: [
    { path: 'monitoring', element: <FleetChartsPage /> },
    { path: 'monitoring/query', element: <QueryPage /> },
    { path: 'monitoring/targets', element: <TargetsPage /> },
  ],
  nav: [
    { to: '/monitoring', label: 'Metrics', icon: 'graph', testId: 'nav-monitoring' },
    { to: '/monitoring/query', label: 'Query', icon: 'search', testId: 'nav-query' },
    { to: '/monitoring/targets', label: 'Targets', icon: 'plug', testId: 'nav-targets' },
  ],
  // Nothing live: charts follow their range (a preset moves on every step), targets poll.
};
