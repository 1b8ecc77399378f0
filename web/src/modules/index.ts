// Every dashboard module, registered once (see ./types.ts). Adding a module: a folder with an
// index.ts exporting its descriptor, and one line here.

import { ai } from './ai';
import { alerting } from './alerting';
import { backups } from './backups';
import { monitoring } from './monitoring';
import type { ModuleDescriptor } from './types';

export const MODULES: readonly ModuleDescriptor[] = [
  monitoring,
  alerting,
  backups,
  ai,
];
