import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Context, MiddlewareHandler } from 'hono';
import { compress } from 'hono/compress';

/** Vite puts content-hashed files under /assets: their URL changes whenever they do. */
const immutable = 'public, max-age=31536000, immutable';

const notBuilt =
  'Tally’s app is not built yet. Run `npm run build`, then reload this page. ' +
  '(The sync API under /api works without it.)\n';

const isNavigation = (c: Context) =>
  c.req.header('Sec-Fetch-Mode') === 'navigate' ||
  (c.req.header('Accept') ?? '').includes('text/html');

/**
 * Serves the built PWA. Everything that is not a hashed asset is `no-cache` (revalidated on every
 * load), so index.html, sw.js and the manifest can never pin an old version of the app. A
 * navigation to a path that is no file gets index.html: the app routes on the client.
 *
 * Compressed for clients that accept it: the build writes Brotli and gzip copies beside the
 * bundles and index.html (vite.config.ts `precompress`), served as they are (`precompressed`:
 * Brotli first, no work per request); anything else of a text type over 1 KiB (the service
 * worker, a build without copies) is gzipped as it goes out (Hono's compress). Source maps are
 * not served: the build writes them for debugging, not for the public.
 */
export function staticFiles(dir: string): MiddlewareHandler {
  const root = resolve(dir);
  // Made on first use: serveStatic complains at creation when the folder does not exist yet.
  let files: MiddlewareHandler | undefined;
  let index: MiddlewareHandler | undefined;
  const gzip = compress({ encoding: 'gzip' });

  const serve: MiddlewareHandler = async (c, next) => {
    if (c.req.path.endsWith('.map')) return next();
    if (!existsSync(resolve(root, 'index.html'))) {
      if (c.req.path === '/' || isNavigation(c)) return c.text(notBuilt, 503);
      return next();
    }
    files ??= serveStatic({ root, precompressed: true });
    index ??= serveStatic({ root, path: 'index.html', precompressed: true });
    const noop = async () => {};
    const found = await files(c, noop);
    if (found) {
      found.headers.set(
        'Cache-Control',
        c.req.path.startsWith('/assets/') ? immutable : 'no-cache',
      );
      return found;
    }
    if (isNavigation(c)) {
      const fallback = await index(c, noop);
      if (fallback) {
        fallback.headers.set('Cache-Control', 'no-cache');
        return fallback;
      }
    }
    return next();
  };

  return async function staticFiles(c, next) {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return next();
    if (c.req.path === '/api' || c.req.path.startsWith('/api/')) return next();
    // compress() reads c.res after its `next`: serve() hands its answer on through c.res.
    await gzip(c, async () => {
      const found = await serve(c, next);
      if (found instanceof Response) c.res = found;
    });
    return c.res;
  };
}
