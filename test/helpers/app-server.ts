import type { Browser, BrowserContext, BrowserContextOptions } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startServer, type RunningServer } from '../../server/server.ts';
import { launchChromium } from './browser.ts';
import { startRedisServer, type TestRedis } from './redis-server.ts';

/**
 * The real server, serving a production build; without Redis unless one is given. A `port`
 * restarts it on the same origin, so a browser keeps its storage and service worker.
 */
export function serveApp(
  staticDir = 'dist',
  redis: string | false = false,
  port = 0,
): Promise<RunningServer> {
  return startServer({
    port,
    redis,
    secret: 'test-secret-test-secret-test-secret-0123',
    staticDir,
    log: false,
  });
}

/**
 * What an end-to-end file of synced devices runs against: Debian's Chromium, a real
 * redis-server on a free port, and the built app with its sync server. Registers `beforeAll`
 * and `afterAll` (call it at the top of the file); every context made through `newContext` is
 * closed at the end. `serveAgain(port)` starts the server again on the same origin after a test
 * closed it (the server down and back).
 */
export function syncedAppFixture() {
  let browser: Browser | undefined;
  let redis: TestRedis | undefined;
  let server: RunningServer | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    [browser, redis] = await Promise.all([launchChromium(), startRedisServer()]);
    server = await serveApp('dist', redis.url);
  });
  afterAll(async () => {
    for (const context of contexts.splice(0)) await context.close();
    await browser?.close();
    await server?.close();
    await redis?.dispose();
  });
  const started = <T>(part: T | undefined): T => {
    if (part === undefined) throw new Error('The e2e fixture has not started (beforeAll).');
    return part;
  };
  return {
    get browser(): Browser {
      return started(browser);
    },
    get server(): RunningServer {
      return started(server);
    },
    async newContext(options?: BrowserContextOptions): Promise<BrowserContext> {
      const context = await started(browser).newContext(options);
      contexts.push(context);
      return context;
    },
    async serveAgain(port: number): Promise<RunningServer> {
      server = await serveApp('dist', started(redis).url, port);
      return server;
    },
  };
}
