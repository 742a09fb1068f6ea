import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { leaderCacheName } from './app/leader-cache.ts';

// Every build gets its time as its version: the newer engine wins the writer lock.
process.env.VITE_TALLY_BUILD ??= new Date().toISOString();

/**
 * The UI's chunk (app/start.tsx, with what it imports) is imported by the app's first script as
 * soon as it runs: listed as a modulepreload, the browser fetches it beside that script instead
 * of after it.
 */
function preloadUi(): Plugin {
  return {
    name: 'tally-preload-ui',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(_html, { bundle }) {
        if (!bundle) return [];
        const files = new Set<string>();
        const visit = (fileName: string) => {
          const chunk = bundle[fileName];
          // The entry is the page's script already.
          if (files.has(fileName) || chunk?.type !== 'chunk' || chunk.isEntry) return;
          files.add(fileName);
          chunk.imports.forEach(visit);
        };
        for (const chunk of Object.values(bundle))
          if (chunk.type === 'chunk' && chunk.facadeModuleId?.endsWith('/app/start.tsx'))
            visit(chunk.fileName);
        if (files.size === 0) throw new Error('The build has no app/start.tsx chunk to preload.');
        return [...files].map((file) => ({
          tag: 'link',
          attrs: { rel: 'modulepreload', crossorigin: true, href: `/${file}` },
          injectTo: 'head' as const,
        }));
      },
    },
  };
}

export default defineConfig({
  plugins: [
    react(),
    preloadUi(),
    VitePWA({
      // The page asks before a new version takes over (app/pwa.ts, with workbox-window).
      registerType: 'prompt',
      injectRegister: false,
      includeAssets: ['icons/icon.svg', 'icons/apple-touch-icon.png'],
      manifest: {
        id: '/',
        name: 'Tally — counters that work offline',
        short_name: 'Tally',
        description: 'Counters that work offline, in every tab, on all your devices.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#f8fafc',
        theme_color: '#0f766e',
        categories: ['productivity', 'utilities'],
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          {
            src: '/icons/maskable-512.png',
            sizes: '512x512',
            type: 'image/png',
            purpose: 'maskable',
          },
        ],
      },
      workbox: {
        // The app shell, the engine's workers included: the app must start with no network.
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest}'],
        // The QR code is drawn only when pairing, which needs the server anyway: it is fetched
        // then, not with the app shell. The leader-tab fallback is loaded only by browsers
        // without SharedWorker: it keeps itself for offline starts where it is (below).
        globIgnores: ['**/assets/qrcode-*.js', '**/assets/leader-client-*.js'],
        runtimeCaching: [
          {
            urlPattern: /\/assets\/leader-client-[\w-]+\.js$/,
            handler: 'CacheFirst',
            options: { cacheName: leaderCacheName },
          },
        ],
        navigateFallback: '/index.html',
        navigateFallbackDenylist: [/^\/api\//],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        sourcemap: false,
        // The service worker is one file, bundled with only the parts of Workbox it uses.
        inlineWorkboxRuntime: true,
      },
    }),
  ],
  worker: {
    format: 'es',
    // The workers' build keeps bundlers' `/* @__PURE__ */` marks in its minified output (one
    // per schema call zod/mini makes, some 7 KB of the SharedWorker); nothing bundles it again.
    rolldownOptions: { output: { comments: { annotation: false } } },
  },
  build: {
    target: 'es2022',
    sourcemap: true,
    outDir: process.env.TALLY_OUT_DIR ?? 'dist',
    rollupOptions: {
      output: {
        // Named for what it is, so the precache can leave it out (above).
        chunkFileNames: (chunk) =>
          chunk.moduleIds.some((id) => id.includes('/node_modules/qrcode/'))
            ? 'assets/qrcode-[hash].js'
            : 'assets/[name]-[hash].js',
      },
    },
  },
});
