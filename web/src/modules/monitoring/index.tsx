// The monitoring module's dashboard: fleet charts, the PromQL query page and Prometheus'
// targets. Registered in ../index.ts; shown only while the module is on.

import { lazy } from 'react';
import { Navigate } from 'react-router';
import type { ModuleDescriptor } from '../types';

const FleetChartsPage = lazy(() => import('./FleetChartsPage'));
const QueryPage = lazy(() => import('./QueryPage'));
const TargetsPage = lazy(() => import('./TargetsPage'));

export const monitoring: ModuleDescriptor = {
  name: 'monitoring',
  routes: [
    // Entry paths that are not prefixes of one another, so one nav entry is active at a time.
    { path: 'monitoring', element: <Navigate to="/monitoring/fleet" replace /> },
    { path: 'monitoring/fleet', element: <FleetChartsPage /> },
    { path: 'monitoring/query', element: <QueryPage /> },
    { path: 'monitoring/targets', element: <TargetsPage /> },
  ],
  nav: [
    { to: '/monitoring/fleet', label: 'Metrics', icon: 'graph', testId: 'nav-monitoring' },
    { to: '/monitoring/query', label: 'Query', icon: 'search', testId: 'nav-query' },
    { to: '/monitoring/targets', label: 'Targets', icon: 'plug', testId: 'nav-targets' },
  ],
  // Nothing live: charts follow their range (a preset moves on every step), targets poll.
};
