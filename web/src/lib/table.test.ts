import { describe, expect, it } from 'vitest';
import { type ActionRule, anyActionFor, clampOffset, filterRows, formatSort, limitOf, nextSort, offsetOf, pageSlice, parseSort, sortRows, visibleActions } from './table';

interface Row {
  name: string;
  size: number | null;
}
const rows: Row[] = [
  { name: 'web-10', size: 3 },
  { name: 'Web-2', size: null },
  { name: 'db', size: 1 },
  { name: 'cache', size: 3 },
];

describe('sorting', () => {
  it('parses and formats the URL form', () => {
    expect(parseSort('name')).toEqual({ key: 'name', desc: false });
    expect(parseSort('-size')).toEqual({ key: 'size', desc: true });
    expect(parseSort('')).toBeNull();
    expect(formatSort({ key: 'size', desc: true })).toBe('-size');
    expect(formatSort(null)).toBe('');
  });

  it('cycles ascending, descending, natural order', () => {
    const a = nextSort(null, 'name');
    expect(a).toEqual({ key: 'name', desc: false });
    const d = nextSort(a, 'name');
    expect(d).toEqual({ key: 'name', desc: true });
    expect(nextSort(d, 'name')).toBeNull();
    expect(nextSort(d, 'size')).toEqual({ key: 'size', desc: false });
  });

  it('sorts strings naturally and case-insensitively', () => {
    expect(sortRows(rows, (r) => r.name, false).map((r) => r.name)).toEqual(['cache', 'db', 'Web-2', 'web-10']);
    expect(sortRows(rows, (r) => r.name, true).map((r) => r.name)).toEqual(['web-10', 'Web-2', 'db', 'cache']);
  });

  it('keeps empty values last both ways and is stable', () => {
    expect(sortRows(rows, (r) => r.size, false).map((r) => r.name)).toEqual(['db', 'web-10', 'cache', 'Web-2']);
    expect(sortRows(rows, (r) => r.size, true).map((r) => r.name)).toEqual(['web-10', 'cache', 'db', 'Web-2']);
  });

  it('does not change the input', () => {
    const copy = rows.slice();
    sortRows(rows, (r) => r.name, true);
    expect(rows).toEqual(copy);
  });
});

describe('filtering', () => {
  it('matches every word, case-insensitively', () => {
    expect(filterRows(rows, 'WEB', (r) => r.name).map((r) => r.name)).toEqual(['web-10', 'Web-2']);
    expect(filterRows(rows, 'web 10', (r) => r.name).map((r) => r.name)).toEqual(['web-10']);
    expect(filterRows(rows, '  ', (r) => r.name)).toHaveLength(4);
    expect(filterRows(rows, 'nothing', (r) => r.name)).toEqual([]);
  });
});

describe('paging', () => {
  it('reads limit and offset from the URL within the API bounds', () => {
    expect(limitOf('20')).toBe(20);
    expect(limitOf('500')).toBe(500);
    expect(limitOf('501')).toBe(50);
    expect(limitOf('0')).toBe(50);
    expect(limitOf('2.5')).toBe(50);
    expect(limitOf(null)).toBe(50);
    expect(offsetOf('40')).toBe(40);
    expect(offsetOf('-1')).toBe(0);
    expect(offsetOf('x')).toBe(0);
  });

  it('slices a page and clamps an offset past the end', () => {
    const many = Array.from({ length: 7 }, (_, i) => i);
    expect(pageSlice(many, 3, 3)).toEqual([3, 4, 5]);
    expect(pageSlice(many, 6, 3)).toEqual([6]);
    expect(clampOffset(9, 3, 7)).toBe(6);
    expect(clampOffset(3, 3, 7)).toBe(3);
    expect(clampOffset(6, 3, 6)).toBe(3);
    expect(clampOffset(5, 3, 0)).toBe(5);
  });
});

describe('row actions by role', () => {
  interface A extends ActionRule<Row> {
    id: string;
  }
  const actions: A[] = [
    { id: 'inspect', role: 'viewer' as const },
    { id: 'remove' },
    { id: 'purge', role: 'admin' as const },
    { id: 'start', hidden: (r: Row) => r.name === 'db' },
  ];
  const ids = (xs: A[]) => xs.map((a) => a.id);
  const row = (i: number): Row => rows[i] as Row;

  it('shows each role its actions (operator by default)', () => {
    expect(ids(visibleActions(actions, 'viewer', row(0)))).toEqual(['inspect']);
    expect(ids(visibleActions(actions, 'operator', row(0)))).toEqual(['inspect', 'remove', 'start']);
    expect(ids(visibleActions(actions, 'admin', row(0)))).toEqual(['inspect', 'remove', 'purge', 'start']);
    expect(ids(visibleActions(actions, null, row(0)))).toEqual([]);
  });

  it('hides actions that do not apply to a row', () => {
    expect(ids(visibleActions(actions, 'admin', row(2)))).toEqual(['inspect', 'remove', 'purge']);
  });

  it('decides the actions column', () => {
    expect(anyActionFor([{ role: 'admin' }], 'operator')).toBe(false);
    expect(anyActionFor([{ role: 'admin' }], 'admin')).toBe(true);
    expect(anyActionFor([], 'admin')).toBe(false);
  });
});

describe('gathered list queries', () => {
  it('send limit and offset only when they are not the defaults', async () => {
    const { gatheredQuery } = await import('../api/docker');
    expect(gatheredQuery({ endpoint: '' })).toEqual({ endpoint: '' });
    expect(gatheredQuery({ endpoint: 'local', limit: 50, offset: 0 })).toEqual({ endpoint: 'local' });
    expect(gatheredQuery({ endpoint: '', limit: 20, offset: 40 })).toEqual({ endpoint: '', limit: 20, offset: 40 });
  });
});
