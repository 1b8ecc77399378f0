// Queries and requests of the Stacks pages (`/api/stacks`). `stack.update` events refresh them
// (live/reducer.ts); `stack.progress` events feed the run panel of the page that shows the stack.

import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api } from './client';
import { qk, type StackListParams } from './keys';
import type { Operation, OperationAccepted, StackAction, StackActionResult, StackDetail, StackPage } from './types';

const enc = encodeURIComponent;

export function useStackList(p: StackListParams) {
  return useQuery({
    queryKey: qk.stackList(p),
    queryFn: ({ signal }) =>
      api.get<StackPage>('/api/stacks', {
        query: {
          limit: p.limit,
          offset: p.offset,
          endpoint: p.endpoint,
          name: p.name,
          status: p.status,
          discovered: p.source === 'discovered' ? true : p.source === 'stored' ? false : undefined,
        },
        signal,
      }),
    placeholderData: keepPreviousData,
  });
}

export function useStack(id: string) {
  return useQuery({
    queryKey: qk.stack(id),
    queryFn: ({ signal }) => api.get<StackDetail>(`/api/stacks/${enc(id)}`, { signal }),
  });
}

export interface StackInput {
  name: string;
  endpoint: string;
  compose: string;
  env: Record<string, string>;
}

export const stackRequests = {
  create: (b: StackInput) => api.post<StackDetail>('/api/stacks', { name: b.name, endpoint: b.endpoint || undefined, compose: b.compose, env: b.env }),
  update: (id: string, b: { compose: string; env: Record<string, string> }) => api.put<StackDetail>(`/api/stacks/${enc(id)}`, b),
  adopt: (project: string, endpoint: string) => api.post<StackDetail>('/api/stacks', { adopt: project, endpoint }),
  /** Starts the action: the master answers `202` with the operation that runs it. */
  action: (id: string, action: StackAction, volumes = false) =>
    api.post<OperationAccepted<StackActionResult>>(`/api/stacks/${enc(id)}/${action}`, {}, { query: { volumes: volumes || undefined } }),
  operation: (id: string) => api.get<Operation<StackActionResult>>(`/api/operations/${enc(id)}`),
  remove: (id: string, force: boolean, volumes: boolean) =>
    api.del(`/api/stacks/${enc(id)}`, { query: { force: force || undefined, volumes: volumes || undefined } }),
};

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);

/**
 * Follows an operation until it ends (polling `GET /api/operations/{id}`; the output streams
 * meanwhile as `stack.progress` events).
 */
export async function waitForOperation(id: string, everyMs = 500): Promise<Operation<StackActionResult>> {
  for (;;) {
    const op = await stackRequests.operation(id);
    if (ENDED.has(op.state)) return op;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
