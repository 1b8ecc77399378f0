// The alerting module's dashboard: alerts (acknowledge, resolve, silence), alert rules with their
// editor, and Alertmanager's silences. Registered in ../index.ts; shown only while the module is on.

import { lazy } from 'react';
import { Navigate } from 'react-router';
import type { ModuleDescriptor } from '../types';
import { alertingKeys } from './api';

const AlertsPage = lazy(() => import('./AlertsPage'));
const AlertRulesPage = lazy(() => import('./AlertRulesPage'));
const SilencesPage = lazy(() => import('./SilencesPage'));

export const alerting: ModuleDescriptor = {
  name: 'alerting',
  routes: [
    // Entry paths that are not prefixes of one another, so one nav entry is active at a time.
    { path: 'alerting', element: <Navigate to="/alerting/alerts" replace /> },
    { path: 'alerting/alerts', element: <AlertsPage /> },
    { path: 'alerting/rules', element: <AlertRulesPage /> },
    { path: 'alerting/silences', element: <SilencesPage /> },
  ],
  nav: [
    { to: '/alerting/alerts', label: 'Alerts', icon: 'bell', testId: 'nav-alerts' },
    { to: '/alerting/rules', label: 'Alert rules', icon: 'shield', testId: 'nav-alert-rules' },
    { to: '/alerting/silences', label: 'Silences', icon: 'pause', testId: 'nav-silences' },
  ],
  // alert.* events refresh the alerts (['alerts'], in the shared reducer); the rest is this module's.
  live: (ev, qc) => {
    if (ev.type.startsWith('alert_rule.')) void qc.invalidateQueries({ queryKey: alertingKeys.rulesAll });
    else if (ev.type.startsWith('silence.')) void qc.invalidateQueries({ queryKey: alertingKeys.silencesAll });
    else if (ev.type.startsWith('alert.')) void qc.invalidateQueries({ queryKey: alertingKeys.alertsAll });
  },
};
