// The pure part of the shared resource table: sorting, filtering, paging and which row actions
// a role sees. Kept free of React so it is tested on its own (table.test.ts).

import type { Role } from '../api/types';
import { hasRole } from './roles';

/** Default and bounds of `limit`, as the API's page object defines them. */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/** A sort value: strings compare case-insensitively and naturally, empty values sort last. */
export type SortValue = string | number | boolean | null | undefined;

/** `name` (ascending) or `-name` (descending); '' for the natural order. */
export interface SortSpec {
  key: string;
  desc: boolean;
}

export function parseSort(value: string): SortSpec | null {
  const v = value.trim();
  if (!v || v === '-') return null;
  return v.startsWith('-') ? { key: v.slice(1), desc: true } : { key: v, desc: false };
}

export function formatSort(spec: SortSpec | null): string {
  return spec ? `${spec.desc ? '-' : ''}${spec.key}` : '';
}

/** Clicking a column header: ascending, then descending, then back to the natural order. */
export function nextSort(current: SortSpec | null, key: string): SortSpec | null {
  if (!current || current.key !== key) return { key, desc: false };
  if (!current.desc) return { key, desc: true };
  return null;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function isEmpty(v: SortValue): boolean {
  return v === null || v === undefined || v === '';
}

export function compareValues(a: SortValue, b: SortValue): number {
  if (isEmpty(a) || isEmpty(b)) return isEmpty(a) === isEmpty(b) ? 0 : isEmpty(a) ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? -1 : 1;
  return collator.compare(String(a), String(b));
}

/** A stable sort by `value`; empty values stay last in both directions. */
export function sortRows<T>(rows: readonly T[], value: ((row: T) => SortValue) | undefined, desc: boolean): T[] {
  const indexed = rows.map((row, i) => ({ row, i, v: value ? value(row) : undefined }));
  if (!value) return rows.slice();
  indexed.sort((x, y) => {
    const ex = isEmpty(x.v);
    const ey = isEmpty(y.v);
    if (ex || ey) return ex === ey ? x.i - y.i : ex ? 1 : -1;
    const c = compareValues(x.v, y.v);
    return c === 0 ? x.i - y.i : desc ? -c : c;
  });
  return indexed.map((x) => x.row);
}

/** Rows whose `text` contains every word of `q` (case-insensitive). */
export function filterRows<T>(rows: readonly T[], q: string, text: (row: T) => string): T[] {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return rows.slice();
  return rows.filter((row) => {
    const t = text(row).toLowerCase();
    return words.every((w) => t.includes(w));
  });
}

/** `limit` from the URL: a whole number 1–500, else the default. */
export function limitOf(v: string | null | undefined): number {
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT ? n : DEFAULT_LIMIT;
}

/** `offset` from the URL: a whole number ≥ 0, else 0. */
export function offsetOf(v: string | null | undefined): number {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** The slice of `rows` a page shows. */
export function pageSlice<T>(rows: readonly T[], offset: number, limit: number): T[] {
  return rows.slice(offset, offset + limit);
}

/** An offset that still shows something once the total shrank (e.g. after removing rows). */
export function clampOffset(offset: number, limit: number, total: number): number {
  if (total <= 0 || offset < total) return offset;
  return Math.max(0, Math.floor((total - 1) / limit) * limit);
}

export interface ActionRule<T> {
  /** The least role that may use the action (default operator). */
  role?: Role;
  /** Hides the action for rows it does not apply to. */
  hidden?: (row: T) => boolean;
}

/** The actions `role` may use on `row`. */
export function visibleActions<T, A extends ActionRule<T>>(actions: readonly A[], role: Role | null | undefined, row: T): A[] {
  return actions.filter((a) => hasRole(role, a.role ?? 'operator') && !a.hidden?.(row));
}

/** Whether `role` sees any action at all (decides the actions column). */
export function anyActionFor<T>(actions: readonly ActionRule<T>[], role: Role | null | undefined): boolean {
  return actions.some((a) => hasRole(role, a.role ?? 'operator'));
}
