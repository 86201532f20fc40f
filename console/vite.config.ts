// Builds the console into console/dist, which `custos serve` serves at /. In development the
// Vite server answers the pages and passes /api to a running `custos serve` (CUSTOS_API_URL or
// http://localhost:8080), so cookies and CSRF work exactly as in production.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const api = process.env.CUSTOS_API_URL ?? 'http://localhost:8080';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 900,
  },
  server: {
    port: 5173,
    proxy: { '/api': { target: api, changeOrigin: false } },
  },
  preview: {
    proxy: { '/api': { target: api, changeOrigin: false } },
  },
});
