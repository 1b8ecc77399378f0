import { lazy, type ReactNode } from 'react';
import { createBrowserRouter, Navigate, RouterProvider, useRouteError } from 'react-router';
import { Boot, RequireAuth, RequireRole } from './auth/session';
import { ErrorState } from './components/ui';
import { moduleRoutes } from './modules/registry';
import LoginPage from './pages/LoginPage';
import SetupPage from './pages/SetupPage';
import { Layout } from './shell/Layout';

// Everything behind the sign-in is split per page; admin pages load only for admins.
const loadFleetPage = () => import('./pages/fleet/FleetPage');
const FleetPage = lazy(loadFleetPage);
// The landing page: fetch its code while the session is being checked, not after.
if (typeof window !== 'undefined' && (window.location.pathname === '/' || window.location.pathname === '/fleet')) void loadFleetPage();
const NodeDetailPage = lazy(() => import('./pages/fleet/NodeDetailPage'));
const HostsPage = lazy(() => import('./pages/fleet/HostsPage'));
const HostDetailPage = lazy(() => import('./pages/fleet/HostDetailPage'));
const ContainersPage = lazy(() => import('./pages/docker/ContainersPage'));
const ContainerDetailPage = lazy(() => import('./pages/docker/ContainerDetailPage'));
const StacksPage = lazy(() => import('./pages/stacks/StacksPage'));
const StackDetailPage = lazy(() => import('./pages/stacks/StackDetailPage'));
const NewStackPage = lazy(() => import('./pages/stacks/StackDetailPage').then((m) => ({ default: m.NewStackPage })));
const ImagesPage = lazy(() => import('./pages/docker/ImagesPage'));
const VolumesPage = lazy(() => import('./pages/docker/VolumesPage'));
const NetworksPage = lazy(() => import('./pages/docker/NetworksPage'));
const EndpointsPage = lazy(() => import('./pages/admin/EndpointsPage'));
const ActivityPage = lazy(() => import('./pages/ActivityPage'));
const ApiKeysPage = lazy(() => import('./pages/ApiKeysPage'));
const UsersPage = lazy(() => import('./pages/admin/UsersPage'));
const AuditPage = lazy(() => import('./pages/admin/AuditPage'));
const SettingsPage = lazy(() => import('./pages/admin/SettingsPage'));
const SystemPage = lazy(() => import('./pages/admin/SystemPage'));
const SubcontainersPage = lazy(() => import('./pages/admin/SubcontainersPage'));
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
              { path: 'fleet', element: <FleetPage /> },
              { path: 'fleet/:id', element: <NodeDetailPage /> },
              { path: 'hosts', element: <HostsPage /> },
              { path: 'hosts/:id', element: <HostDetailPage /> },
              { path: 'containers', element: <ContainersPage /> },
              { path: 'containers/:endpoint/:id', element: <ContainerDetailPage /> },
              { path: 'stacks', element: <StacksPage /> },
              { path: 'stacks/new', element: <RequireRole role="operator"><NewStackPage /></RequireRole> },
              { path: 'stacks/:id', element: <StackDetailPage /> },
              { path: 'images', element: <ImagesPage /> },
              { path: 'volumes', element: <VolumesPage /> },
              { path: 'networks', element: <NetworksPage /> },
              { path: 'activity', element: <ActivityPage /> },
              { path: 'keys', element: <ApiKeysPage /> },
              { path: 'admin', element: <Navigate to="/admin/users" replace /> },
              { path: 'admin/users', element: admin(<UsersPage />) },
              { path: 'admin/audit', element: admin(<AuditPage />) },
              { path: 'admin/settings', element: admin(<SettingsPage />) },
              { path: 'admin/system', element: admin(<SystemPage />) },
              { path: 'admin/endpoints', element: admin(<EndpointsPage />) },
              { path: 'admin/subcontainers', element: admin(<SubcontainersPage />) },
              // Each module's pages, shown only while the module is on (modules/index.ts).
              ...moduleRoutes(),
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
