import { startServer, type RunningServer } from '../../server/server.ts';

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
