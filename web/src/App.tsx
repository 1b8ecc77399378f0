import { lazy, type ReactNode } from 'react';
import { createBrowserRouter, Navigate, RouterProvider, useRouteError } from 'react-router';
import type { ResourceKind } from './api/keys';
import { Boot, RequireAuth, RequireRole } from './auth/session';
import { ErrorState } from './components/ui';
import LoginPage from './pages/LoginPage';
import SetupPage from './pages/SetupPage';
import { Layout } from './shell/Layout';

// Everything behind the sign-in is split per page; admin pages load only for admins.
const ResourceRoute = lazy(() => import('./pages/resources/ResourcePage'));
const ActivityPage = lazy(() => import('./pages/ActivityPage'));
const ApiKeysPage = lazy(() => import('./pages/ApiKeysPage'));
const UsersPage = lazy(() => import('./pages/admin/UsersPage'));
const AuditPage = lazy(() => import('./pages/admin/AuditPage'));
const SettingsPage = lazy(() => import('./pages/admin/SettingsPage'));
const SystemPage = lazy(() => import('./pages/admin/SystemPage'));
const NotFoundPage = lazy(() => import('./pages/NotFoundPage'));

function RouteError() {
  const error = useRouteError();
  return (
    <div className="page">
      <ErrorState error={error} onRetry={() => window.location.reload()} />
    </div>
  );
}

const admin = (el: ReactNode) => <RequireRole role="admin">{el}</RequireRole>;
const resource = (kind: ResourceKind) => <ResourceRoute kind={kind} />;

const router = createBrowserRouter([
  {
    element: <Boot />,
    errorElement: <RouteError />,
    children: [
      { path: '/setup', element: <SetupPage /> },
      { path: '/login', element: <LoginPage /> },
      {
        path: '/',
        element: (
          <RequireAuth>
            <Layout />
          </RequireAuth>
        ),
        children: [
          {
            errorElement: <RouteError />,
            children: [
              { index: true, element: <Navigate to="/fleet" replace /> },
              { path: 'fleet', element: resource('nodes') },
              { path: 'containers', element: resource('containers') },
              { path: 'stacks', element: resource('stacks') },
              { path: 'images', element: resource('images') },
              { path: 'volumes', element: resource('volumes') },
              { path: 'networks', element: resource('networks') },
              { path: 'activity', element: <ActivityPage /> },
              { path: 'keys', element: <ApiKeysPage /> },
              { path: 'admin', element: <Navigate to="/admin/users" replace /> },
              { path: 'admin/users', element: admin(<UsersPage />) },
              { path: 'admin/audit', element: admin(<AuditPage />) },
              { path: 'admin/settings', element: admin(<SettingsPage />) },
              { path: 'admin/system', element: admin(<SystemPage />) },
              { path: '*', element: <NotFoundPage /> },
            ],
          },
        ],
      },
    ],
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}
