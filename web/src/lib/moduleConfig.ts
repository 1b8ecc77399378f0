// Form state for a module's configuration, driven by the field list the master serves.
// PUT /api/config/{module} merges: keys left out keep their value, `null` removes a key, and a
// secret sent back as "********" stays as stored. So the form sends only what changed.

import { REDACTED, type ModuleField } from '../api/types';

export type FieldValue = string | boolean;

export interface FormState {
  values: Record<string, FieldValue>;
  /** Secrets that are stored on the server (shown redacted). */
  storedSecrets: Set<string>;
}

export function initialForm(fields: ModuleField[], config: Record<string, unknown>): FormState {
  const values: Record<string, FieldValue> = {};
  const storedSecrets = new Set<string>();
  for (const f of fields) {
    const v = config[f.key];
    if (f.kind === 'bool') values[f.key] = v === true;
    else if (f.kind === 'secret') {
      if (v !== undefined && v !== null && v !== '') storedSecrets.add(f.key);
      values[f.key] = '';
    } else values[f.key] = v === undefined || v === null ? '' : String(v);
  }
  return { values, storedSecrets };
}

export interface PatchResult {
  patch: Record<string, unknown>;
  errors: Record<string, string>;
}

/**
 * The keys to send. `clearSecrets` lists stored secrets the user chose to remove.
 */
export function buildPatch(
  fields: ModuleField[],
  initial: FormState,
  values: Record<string, FieldValue>,
  clearSecrets: Set<string> = new Set(),
): PatchResult {
  const patch: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const now = values[f.key];
    const before = initial.values[f.key];
    if (f.kind === 'secret') {
      if (typeof now === 'string' && now !== '') patch[f.key] = now;
      else if (clearSecrets.has(f.key)) patch[f.key] = null;
      continue;
    }
    if (now === before) continue;
    if (f.kind === 'bool') {
      patch[f.key] = now === true;
    } else if (typeof now === 'string' && now.trim() === '') {
      patch[f.key] = null;
    } else if (f.kind === 'integer') {
      const n = Number(String(now).trim());
      if (!Number.isInteger(n)) errors[f.key] = 'Enter a whole number.';
      else patch[f.key] = n;
    } else {
      patch[f.key] = String(now).trim();
    }
  }
  return { patch, errors };
}

export { REDACTED };
