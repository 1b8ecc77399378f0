// Requests typed by the generated OpenAPI document (./schema.d.ts): the path must be one the
// document declares for that method, path and query parameters and the JSON body are checked
// against the operation, and the answer has the operation's success type. Goes through the one
// ApiClient (cookie session, refresh on 401, ApiError with `field`).
//
//   typed.get('/api/users/{id}', { path: { id } })   // Promise<components['schemas']['UserView']>

import { api, type ApiClient, type Query } from './client';
import type { paths } from './schema';

type Method = 'get' | 'post' | 'put' | 'delete';

/** The operation of `method` on path `P`, or never. */
export type OperationOf<P extends keyof paths, M extends Method> = paths[P] extends { [K in M]: infer O } ? (O extends { responses: unknown } ? O : never) : never;

/** Paths that have an operation for `method`. */
export type PathsWith<M extends Method> = { [P in keyof paths]: OperationOf<P, M> extends never ? never : P }[keyof paths];

type Json<R> = R extends { content: { 'application/json': infer B } } ? B : undefined;

/** The body of the operation's 2xx answers (undefined for 204). */
export type SuccessOf<O> = O extends { responses: infer R } ? { [S in keyof R]: S extends 200 | 201 | 202 | 204 ? Json<R[S]> : never }[keyof R] : never;

type ParamsOf<O> = O extends { parameters: infer P } ? P : Record<string, never>;
type PathParamsOf<O> = ParamsOf<O> extends { path: infer X } ? X : never;
type QueryOf<O> = ParamsOf<O> extends { query?: infer Q } ? Q : never;
type BodyOf<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

export interface TypedOptions<O> {
  path?: PathParamsOf<O>;
  query?: QueryOf<O>;
  body?: BodyOf<O>;
  signal?: AbortSignal;
}

/** `/api/users/{id}` with `{id: 'a b'}` → `/api/users/a%20b`; a missing parameter throws. */
export function fillPath(template: string, params: Readonly<Record<string, unknown>> | undefined): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = params?.[name];
    if (v === undefined || v === null || v === '') throw new Error(`missing path parameter "${name}" for ${template}`);
    return encodeURIComponent(String(v));
  });
}

export function typedRequest<M extends Method, P extends PathsWith<M>>(
  method: M,
  path: P,
  opts: TypedOptions<OperationOf<P, M>> = {},
  client: ApiClient = api,
): Promise<SuccessOf<OperationOf<P, M>>> {
  const url = fillPath(path, opts.path as Record<string, unknown> | undefined);
  const body = opts.body === undefined && (method === 'post' || method === 'put') ? {} : opts.body;
  return client.request(method.toUpperCase(), url, { query: opts.query as Query | undefined, body, signal: opts.signal });
}

export const typed = {
  get: <P extends PathsWith<'get'>>(path: P, opts?: TypedOptions<OperationOf<P, 'get'>>) => typedRequest('get', path, opts),
  post: <P extends PathsWith<'post'>>(path: P, opts?: TypedOptions<OperationOf<P, 'post'>>) => typedRequest('post', path, opts),
  put: <P extends PathsWith<'put'>>(path: P, opts?: TypedOptions<OperationOf<P, 'put'>>) => typedRequest('put', path, opts),
  del: <P extends PathsWith<'delete'>>(path: P, opts?: TypedOptions<OperationOf<P, 'delete'>>) => typedRequest('delete', path, opts),
};
