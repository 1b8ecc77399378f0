// A small fetch wrapper for the ContextBay API.
//
// - Authentication is the HttpOnly session cookie the server sets, so every request is sent
//   with `credentials: 'same-origin'` and the browser never holds a token.
// - On 401 the client refreshes the session once (single-flight: concurrent 401s share one
//   `POST /api/auth/refresh`) and retries the request; if the refresh fails it reports the
//   session as lost through `onUnauthorized`.
// - Every non-2xx answer becomes an `ApiError` carrying status, stable code and message.

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not try a refresh on 401 (login, setup, refresh itself). */
  noRefresh?: boolean;
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  /** Seconds from a `Retry-After` header (429), when present. */
  readonly retryAfter: number | null;
  /**
   * The input the error is about (body field, query or path parameter), as the error body's
   * `field` names it: a name or a dotted path such as `ports[0].host`.
   */
  readonly field: string | null;

  constructor(
    status: number,
    message: string,
    code = 'error',
    requestId: string | null = null,
    retryAfter: number | null = null,
    field: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
    this.field = field;
  }

  get isUnauthorized(): boolean {
    return this.status === 401;
  }
  get isForbidden(): boolean {
    return this.status === 403;
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
  get isNetwork(): boolean {
    return this.status === 0;
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** A message fit to show a person, whatever was thrown. */
export function errorMessage(e: unknown): string {
  if (isApiError(e)) {
    if (e.status === 403) return `You don't have permission to do this (${e.message}).`;
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

export function buildUrl(base: string, path: string, query?: Query): string {
  let url = base + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '') continue;
      params.set(k, String(v));
    }
    const qs = params.toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  return url;
}

/** Parses `Retry-After` (delta-seconds or HTTP date) into whole seconds from `now`. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

const NO_REFRESH_PATHS = ['/api/auth/login', '/api/auth/setup', '/api/auth/refresh', '/api/auth/logout'];

export interface ApiClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Called once the session is definitely gone (refresh failed). */
  onUnauthorized?: () => void;
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private refreshing: Promise<boolean> | null = null;
  onUnauthorized: (() => void) | undefined;

  constructor(opts: ApiClientOptions = {}) {
    this.baseUrl = opts.baseUrl ?? '';
    // Never call an unbound `window.fetch` (it throws "Illegal invocation").
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.onUnauthorized = opts.onUnauthorized;
  }

  get<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, opts);
  }
  post<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body: body ?? {} });
  }
  put<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, { ...opts, body: body ?? {} });
  }
  del<T = void>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, opts);
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    if (res.status === 401 && !opts.noRefresh && !NO_REFRESH_PATHS.includes(path)) {
      const refreshed = await this.refresh();
      if (refreshed) {
        const retry = await this.send(method, path, opts);
        if (retry.status === 401) this.onUnauthorized?.();
        return this.parse<T>(retry);
      }
      this.onUnauthorized?.();
    }
    return this.parse<T>(res);
  }

  /**
   * Refreshes the session cookie. Concurrent callers share one request, so a burst of
   * 401s (several queries expiring together) costs exactly one refresh.
   */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.send('POST', '/api/auth/refresh', { body: {} })
        .then((res) => res.ok)
        .catch(() => false)
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  private async send(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
    const init: RequestInit = { method, headers, credentials: 'same-origin' };
    if (opts.signal) init.signal = opts.signal;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    try {
      return await this.fetchImpl(buildUrl(this.baseUrl, path, opts.query), init);
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'cannot reach the server — check your connection', 'network_error');
    }
  }

  private async parse<T>(res: Response): Promise<T> {
    const text = res.status === 204 ? '' : await res.text();
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (res.ok) return body as T;

    const obj = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const message =
      typeof obj.error === 'string' && obj.error
        ? obj.error
        : text && text.length < 200 && !text.trimStart().startsWith('<')
          ? text
          : defaultMessage(res.status, res.statusText);
    throw new ApiError(
      res.status,
      message,
      typeof obj.code === 'string' ? obj.code : `http_${res.status}`,
      typeof obj.request_id === 'string' ? obj.request_id : res.headers.get('x-request-id'),
      parseRetryAfter(res.headers.get('retry-after')),
      typeof obj.field === 'string' && obj.field ? obj.field : null,
    );
  }
}

function defaultMessage(status: number, statusText: string): string {
  switch (status) {
    case 401:
      return 'your session has expired — please sign in again';
    case 403:
      return "you don't have permission to do this";
    case 404:
      return 'not found';
    case 429:
      return 'too many requests';
    default:
      return statusText ? `${status} ${statusText}` : `request failed (${status})`;
  }
}

/** The application's one client. `onUnauthorized` is wired by the auth layer. */
export const api = new ApiClient();
