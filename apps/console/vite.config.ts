import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** Built into dist/ and served by the gateway at /console (same origin, hashed long-cached assets). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [react()],
  resolve: {
    // codemirror-json-schema colours hover code with shiki (WebAssembly, refused by our CSP, and large).
    alias: [
      {
        find: /^shiki\/.*$/,
        replacement: fileURLToPath(new URL('src/editor/shiki-stub.ts', import.meta.url)),
      },
      {
        find: /^@shikijs\/markdown-it\/core$/,
        replacement: fileURLToPath(new URL('src/editor/shiki-stub.ts', import.meta.url)),
      },
    ],
  },
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // The budget is checked by scripts/check-size.mjs (gzipped); Vite's own warning is about raw size.
    chunkSizeWarningLimit: 2000,
    // No inline script: the CSP allows only our own files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
