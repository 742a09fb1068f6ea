import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { startServer, type RunningServer } from '../server/server.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { startRedisServer, type TestRedis } from '../test/helpers/redis-server.ts';

export type Harness = {
  readonly buildDir: string;
  readonly redis: TestRedis;
  readonly server: RunningServer;
  readonly browser: Browser;
  /** Stops everything started here, newest first; safe to call more than once. */
  close(): Promise<void>;
};

const staticDir = join(dirname(fileURLToPath(import.meta.url)), 'static');

/** The built app's SharedWorker chunk, as the page asks for it. */
export function engineUrl(buildDir: string): string {
  const chunk = readdirSync(join(buildDir, 'assets')).find(
    (file) => file.startsWith('shared-worker-') && file.endsWith('.js'),
  );
  if (!chunk) throw new Error(`No shared-worker chunk in ${buildDir}/assets: is it a Tally build?`);
  return `/assets/${chunk}`;
}

/**
 * Bench-only files go into the build's copy under /bench, so they are same-origin with the app
 * (the server's CSP allows workers from 'self' only) without the server knowing about them.
 */
function addBenchFiles(buildDir: string): void {
  const target = join(buildDir, 'bench');
  mkdirSync(target, { recursive: true });
  copyFileSync(join(staticDir, 'page.js'), join(target, 'page.js'));
  for (const file of [
    'idb-worker.js',
    'idb-requests.js',
    'relay-worker.js',
    'cold-page.html',
    'cold-page.js',
    'cold-worker.js',
  ])
    copyFileSync(join(staticDir, file), join(target, file));
  const html = readFileSync(join(staticDir, 'page.html'), 'utf8');
  writeFileSync(join(target, 'page.html'), html.replace('%ENGINE_URL%', engineUrl(buildDir)));
}

export async function startHarness(buildDir: string): Promise<Harness> {
  const stops: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    addBenchFiles(buildDir);
    const redis = await startRedisServer();
    stops.push(() => redis.dispose());
    const server = await startServer({
      redis: redis.url,
      secret: 'bench-secret-bench-secret-bench-secret-0123',
      staticDir: buildDir,
      log: false,
    });
    stops.push(() => server.close());
    const browser = await launchChromium();
    stops.push(() => browser.close());
    return { buildDir, redis, server, browser, close };
  } catch (error) {
    await close();
    throw error;
  }
}
