import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, buildUrl, errorMessage, parseRetryAfter } from './client';

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

type Handler = (url: string, init: RequestInit) => Response | Promise<Response>;

function fakeFetch(handler: Handler) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, init: init ?? {} });
    return handler(url, init ?? {});
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}

describe('buildUrl', () => {
  it('skips empty values and encodes the rest', () => {
    expect(buildUrl('', '/api/users', { q: 'a b', limit: 50, offset: 0, x: undefined, y: null, z: '' })).toBe(
      '/api/users?q=a+b&limit=50&offset=0',
    );
    expect(buildUrl('', '/api/x')).toBe('/api/x');
  });
});

describe('parseRetryAfter', () => {
  it('reads delta seconds and HTTP dates', () => {
    expect(parseRetryAfter('42')).toBe(42);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('garbage')).toBeNull();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
  });
});

describe('ApiClient', () => {
  it('sends JSON with same-origin credentials and parses the answer', async () => {
    const { fetch, calls } = fakeFetch(() => json(201, { id: 'u1' }));
    const client = new ApiClient({ fetch });
    const out = await client.post<{ id: string }>('/api/users', { username: 'bob' });
    expect(out).toEqual({ id: 'u1' });
    const init = calls[0]!.init;
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    expect(init.body).toBe('{"username":"bob"}');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('returns undefined for 204', async () => {
    const { fetch } = fakeFetch(() => new Response(null, { status: 204 }));
    await expect(new ApiClient({ fetch }).del('/api/users/1')).resolves.toBeUndefined();
  });

  it('turns error bodies into ApiError with status, code, message and request id', async () => {
    const { fetch } = fakeFetch(() => json(409, { error: 'username taken', code: 'conflict', request_id: 'r-1' }));
    const err = await new ApiClient({ fetch }).post('/api/users', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(409);
    expect(e.code).toBe('conflict');
    expect(e.message).toBe('username taken');
    expect(e.requestId).toBe('r-1');
  });

  it('falls back to a readable message when the body is not JSON', async () => {
    const { fetch } = fakeFetch(() => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const e = (await new ApiClient({ fetch }).get('/api/x').catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(502);
    expect(e.message).toBe('502 Bad Gateway');
    expect(e.code).toBe('http_502');
  });

  it('carries Retry-After on 429 without trying a refresh', async () => {
    const { fetch, calls } = fakeFetch(() =>
      json(429, { error: 'too many attempts', code: 'rate_limited' }, { 'Retry-After': '17' }),
    );
    const e = (await new ApiClient({ fetch })
      .post('/api/auth/login', { username: 'a', password: 'b' })
      .catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(429);
    expect(e.retryAfter).toBe(17);
    expect(calls).toHaveLength(1);
  });

  it('maps a failed fetch to a network ApiError', async () => {
    const fetch = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof globalThis.fetch;
    const e = (await new ApiClient({ fetch }).get('/api/health').catch((x: unknown) => x)) as ApiError;
    expect(e.isNetwork).toBe(true);
    expect(e.code).toBe('network_error');
  });

  it('on 401 refreshes once and retries the request', async () => {
    let refreshed = false;
    const { fetch, calls } = fakeFetch((url) => {
      if (url === '/api/auth/refresh') {
        refreshed = true;
        return json(200, { user: {} });
      }
      return refreshed ? json(200, { ok: true }) : json(401, { error: 'token expired', code: 'unauthorized' });
    });
    const onUnauthorized = vi.fn();
    const out = await new ApiClient({ fetch, onUnauthorized }).get('/api/auth/me');
    expect(out).toEqual({ ok: true });
    expect(calls.map((c) => c.url)).toEqual(['/api/auth/me', '/api/auth/refresh', '/api/auth/me']);
    expect(calls[1]!.init.method).toBe('POST');
    expect(calls[1]!.init.body).toBe('{}');
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('shares one refresh between concurrent 401s (single flight)', async () => {
    let refreshes = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let valid = false;
    const { fetch } = fakeFetch(async (url) => {
      if (url === '/api/auth/refresh') {
        refreshes++;
        await gate;
        valid = true;
        return json(200, {});
      }
      return valid ? json(200, { url }) : json(401, { error: 'expired' });
    });
    const client = new ApiClient({ fetch });
    const all = Promise.all([client.get('/api/a'), client.get('/api/b'), client.get('/api/c')]);
    await new Promise((r) => setTimeout(r, 0));
    release();
    const results = await all;
    expect(refreshes).toBe(1);
    expect(results).toEqual([{ url: '/api/a' }, { url: '/api/b' }, { url: '/api/c' }]);
    // After the flight lands, a later expiry triggers a new refresh.
    valid = false;
    await client.get('/api/d');
    expect(refreshes).toBe(2);
  });

  it('reports the session lost when the refresh fails, and throws the 401', async () => {
    const { fetch, calls } = fakeFetch((url) =>
      url === '/api/auth/refresh' ? json(401, { error: 'refresh token revoked' }) : json(401, { error: 'expired' }),
    );
    const onUnauthorized = vi.fn();
    const e = (await new ApiClient({ fetch, onUnauthorized }).get('/api/users').catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(401);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(calls).toHaveLength(2);
  });

  it('never refreshes for the auth endpoints themselves', async () => {
    const { fetch, calls } = fakeFetch(() => json(401, { error: 'invalid username or password' }));
    const onUnauthorized = vi.fn();
    const e = (await new ApiClient({ fetch, onUnauthorized })
      .post('/api/auth/login', {})
      .catch((x: unknown) => x)) as ApiError;
    expect(e.message).toBe('invalid username or password');
    expect(calls).toHaveLength(1);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('errorMessage makes 403 explicit', () => {
    expect(errorMessage(new ApiError(403, 'admin role required'))).toMatch(/don't have permission/);
    expect(errorMessage(new Error('boom'))).toBe('boom');
  });
});
