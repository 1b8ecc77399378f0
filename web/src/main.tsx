import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { api, isApiError } from './api/client';
import { qk } from './api/keys';
import { App } from './App';
import { ToastProvider } from './components/Toaster';
import { applyTheme, watchSystemTheme } from './lib/theme';
import './styles/index.css';

applyTheme();
watchSystemTheme();

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Live events keep the cache current; no polling, no refetch on focus.
      staleTime: 30_000,
      refetchOnWindowFocus: false,
      retry: (count, error) => {
        if (isApiError(error) && error.status >= 400 && error.status < 500) return false;
        return count < 2;
      },
    },
    mutations: { retry: false },
  },
});

// A session that cannot be refreshed any more sends the app to the sign-in page.
api.onUnauthorized = () => {
  if (queryClient.getQueryData(qk.me) !== null) queryClient.setQueryData(qk.me, null);
};

const root = document.getElementById('root');
if (!root) throw new Error('missing #root');

createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        <App />
      </ToastProvider>
    </QueryClientProvider>
  </StrictMode>,
);
