/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The master embeds web/dist and serves it at `/` (unknown non-/api paths fall back to
// index.html), so every asset URL is absolute from the root and the API is same-origin.
const apiTarget = process.env.CB_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    // The one chunk above 400 kB is cytoscape (network topology), loaded only with that view.
    chunkSizeWarningLimit: 460,
    rolldownOptions: {
      output: {
        // The framework in one long-cached chunk; heavy page libraries (xterm.js, charts,
        // graphs) stay in the lazy chunks of the pages that import them.
        codeSplitting: {
          groups: [
            {
              name: 'vendor',
              test: /node_modules[\\/](react|react-dom|scheduler|react-router|@tanstack|cookie|set-cookie-parser)[\\/]/,
            },
          ],
        },
      },
    },
  },
  server: {
    port: 5173,
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false, ws: true },
    },
  },
  preview: {
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false, ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
});
