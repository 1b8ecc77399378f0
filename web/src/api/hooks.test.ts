import { describe, expect, it } from 'vitest';
import { safeNext } from '../auth/session';
import { toResourceList } from './hooks';

describe('toResourceList', () => {
  it('accepts the list shapes a resource endpoint may return', () => {
    expect(toResourceList([{ id: 'a' }, 'junk', null])).toEqual({ items: [{ id: 'a' }] });
    expect(toResourceList({ items: [{ id: 'a' }], total: 7, limit: 50 })).toEqual({ items: [{ id: 'a' }], total: 7 });
    expect(toResourceList({ nodes: [{ id: 'n' }] })).toEqual({ items: [{ id: 'n' }] });
    expect(toResourceList(null)).toEqual({ items: [] });
    expect(toResourceList({ status: 'ok' })).toEqual({ items: [] });
  });
});

describe('safeNext', () => {
  it('only allows same-app paths after sign-in', () => {
    expect(safeNext('/admin/users?q=x')).toBe('/admin/users?q=x');
    expect(safeNext(null)).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext('//evil.example/')).toBe('/');
    expect(safeNext('/login?next=/x')).toBe('/');
  });
});
