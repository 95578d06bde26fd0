/// <reference types="vitest/config" />
import { defineConfig } from 'vite'

// The bundle is committed (web/dist) and embedded in the server binary; CI
// rebuilds it and fails if it differs, so the build must be deterministic:
// content hashes only, no timestamps, no source maps with absolute paths.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    // Fonts and the like stay files (cacheable), never inlined data URLs.
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev` against a local `plenary serve`.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/sync': { target: 'ws://127.0.0.1:8080', ws: true },
    },
    fs: { allow: ['..'] },
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
})
