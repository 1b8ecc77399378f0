// The backups module's dashboard: backup jobs (schedule editor, run now) and each job's records
// with live progress, verify, restore and download. Registered in ../index.ts; shown only while
// the module is on.

import { lazy } from 'react';
import type { ModuleDescriptor } from '../types';
import { backupKeys } from './api';

const JobsPage = lazy(() => import('./JobsPage'));
const JobPage = lazy(() => import('./JobPage'));

export const backups: ModuleDescriptor = {
  name: 'backups',
  routes: [
    { path: 'backups', element: <JobsPage /> },
    { path: 'backups/:id', element: <JobPage /> },
  ],
  nav: [{ to: '/backups', label: 'Backups', icon: 'database', testId: 'nav-backups', section: 'Fleet' }],
  // A run's end changes its job's records (progress ticks are the job page's own).
  live: (ev, qc) => {
    if (ev.type === 'backup.finished') void qc.invalidateQueries({ queryKey: backupKeys.all });
  },
};
