import { describe, expect, it } from 'vitest';
import { safeNext } from '../auth/session';

describe('safeNext', () => {
  it('only allows same-app paths after sign-in', () => {
    expect(safeNext('/admin/users?q=x')).toBe('/admin/users?q=x');
    expect(safeNext(null)).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext('//evil.example/')).toBe('/');
    expect(safeNext('/login?next=/x')).toBe('/');
  });
});
