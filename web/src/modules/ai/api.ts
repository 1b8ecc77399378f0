// The AI module's calls, typed by the generated OpenAPI document. Query keys under ['ai', …].

import { useQuery } from '@tanstack/react-query';
import type { components } from '../../api/schema';
import { typed } from '../../api/typed';
import type { ModeBody, ServerInput } from './ai';

export const aiKeys = {
  all: ['ai'] as const,
  models: ['ai', 'models'] as const,
  status: ['ai', 'status'] as const,
  router: ['ai', 'router'] as const,
  modes: ['ai', 'modes'] as const,
  servers: ['ai', 'mcp-servers'] as const,
  tools: ['ai', 'mcp-tools'] as const,
};

const ALL = { limit: 500 };

/** The document types `arguments` as a bare `object` (no properties): any JSON object goes. */
type TestArguments = NonNullable<components['schemas']['TestTool']['arguments']>;

export const useModels = () => useQuery({ queryKey: aiKeys.models, retry: false, queryFn: ({ signal }) => typed.get('/api/ai/models', { query: ALL, signal }) });
export const useAiStatus = () => useQuery({ queryKey: aiKeys.status, queryFn: ({ signal }) => typed.get('/api/ai/status', { signal }) });
export const useRouterStatus = () => useQuery({ queryKey: aiKeys.router, refetchInterval: 10_000, queryFn: ({ signal }) => typed.get('/api/ai/router/status', { signal }) });
export const useModes = () => useQuery({ queryKey: aiKeys.modes, queryFn: ({ signal }) => typed.get('/api/ai/modes', { query: ALL, signal }) });
export const useMcpServers = () => useQuery({ queryKey: aiKeys.servers, queryFn: ({ signal }) => typed.get('/api/ai/mcp-servers', { query: ALL, signal }) });
export const useMcpTools = () => useQuery({ queryKey: aiKeys.tools, queryFn: ({ signal }) => typed.get('/api/ai/mcp-tools', { query: ALL, signal }) });

export const aiRequests = {
  createMode: (body: ModeBody) => typed.post('/api/ai/modes', { body }),
  updateMode: (id: string, body: ModeBody) => typed.put('/api/ai/modes/{id}', { path: { id }, body }),
  deleteMode: (id: string) => typed.del('/api/ai/modes/{id}', { path: { id } }),
  createServer: (body: ServerInput) => typed.post('/api/ai/mcp-servers', { body }),
  updateServer: (id: string, body: ServerInput) => typed.put('/api/ai/mcp-servers/{id}', { path: { id }, body }),
  deleteServer: (id: string) => typed.del('/api/ai/mcp-servers/{id}', { path: { id } }),
  probeServer: (id: string) => typed.get('/api/ai/mcp-servers/{id}/health', { path: { id } }),
  testTool: (name: string, args: Record<string, unknown>) => typed.post('/api/ai/mcp-tools/{name}/test', { path: { name }, body: { arguments: args as TestArguments } }),
};
