// The AI module's dashboard: chat (streamed), the router's status, agent modes and MCP servers
// with their tools. (AI tasks, sessions and skills get their pages once their routes exist.)
// Registered in ../index.ts; shown only while the module is on.

import { lazy } from 'react';
import { Navigate } from 'react-router';
import type { ModuleDescriptor } from '../types';

const ChatPage = lazy(() => import('./ChatPage'));
const RouterPage = lazy(() => import('./RouterPage'));
const ModesPage = lazy(() => import('./ModesPage'));
const McpPage = lazy(() => import('./McpPage'));

export const ai: ModuleDescriptor = {
  name: 'ai',
  routes: [
    { path: 'ai', element: <Navigate to="/ai/chat" replace /> },
    { path: 'ai/chat', element: <ChatPage /> },
    { path: 'ai/router', element: <RouterPage /> },
    { path: 'ai/modes', element: <ModesPage /> },
    { path: 'ai/mcp', element: <McpPage /> },
  ],
  nav: [
    { to: '/ai/chat', label: 'AI chat', icon: 'send', testId: 'nav-ai-chat' },
    { to: '/ai/router', label: 'AI router', icon: 'graph', testId: 'nav-ai-router' },
    { to: '/ai/modes', label: 'Agent modes', icon: 'shield', testId: 'nav-ai-modes', section: 'Admin' },
    { to: '/ai/mcp', label: 'MCP servers', icon: 'plug', testId: 'nav-ai-mcp', section: 'Admin' },
  ],
};
