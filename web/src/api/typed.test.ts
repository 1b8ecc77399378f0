import { describe, expect, it } from 'vitest';
import { ApiClient } from './client';
import type { components } from './schema';
import { fillPath, typedRequest, type SuccessOf, type OperationOf } from './typed';

describe('typed requests', () => {
  it('fills path parameters, encoded, and refuses a missing one', () => {
    expect(fillPath('/api/users/{id}', { id: 'a b/c' })).toBe('/api/users/a%20b%2Fc');
    expect(fillPath('/api/health', undefined)).toBe('/api/health');
    expect(() => fillPath('/api/users/{id}', {})).toThrow('missing path parameter "id" for /api/users/{id}');
  });

  it('sends the method, path, query and body through the client', async () => {
    const seen: { method: string; url: string; body: string | null }[] = [];
    const client = new ApiClient({
      fetch: async (input, init) => {
        seen.push({ method: init?.method ?? '', url: String(input), body: (init?.body as string) ?? null });
        return new Response(JSON.stringify({ id: 'u1', username: 'ann', role: 'viewer', disabled: false, created_at: 'x', updated_at: 'x' }), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        });
      },
    });
    const u = await typedRequest('put', '/api/users/{id}', { path: { id: 'u1' }, body: { role: 'operator' } }, client);
    expect(u.username).toBe('ann');
    expect(seen).toEqual([{ method: 'PUT', url: '/api/users/u1', body: '{"role":"operator"}' }]);

    await typedRequest('get', '/api/audit', { query: { limit: 5, actor: 'ann' } }, client);
    expect(seen[1]).toEqual({ method: 'GET', url: '/api/audit?limit=5&actor=ann', body: null });
  });

  it('types answers and arguments from the document (checked by tsc)', () => {
    const user: SuccessOf<OperationOf<'/api/users/{id}', 'get'>> = {} as components['schemas']['UserView'];
    expect(user).toBeDefined();
    const check = () => {
      // @ts-expect-error: not a path of the document
      void typedRequest('get', '/api/no-such-path');
      // @ts-expect-error: the path parameter is `id`
      void typedRequest('get', '/api/users/{id}', { path: { name: 'x' } });
      // @ts-expect-error: `role` must be a Role
      void typedRequest('put', '/api/users/{id}', { path: { id: 'x' }, body: { role: 'root' } });
    };
    expect(typeof check).toBe('function');
  });
});
