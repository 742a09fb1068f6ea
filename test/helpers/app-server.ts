import { startServer, type RunningServer } from '../../server/server.ts';

/** The real server, serving a production build; without Redis unless one is given. */
export function serveApp(
  staticDir = 'dist',
  redis: string | false = false,
): Promise<RunningServer> {
  return startServer({
    redis,
    secret: 'test-secret-test-secret-test-secret-0123',
    staticDir,
    log: false,
  });
}
