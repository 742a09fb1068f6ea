import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createSyncApp, type SyncApp } from './app.ts';
import type { SyncAppOptions } from './options.ts';

export type ServerOptions = SyncAppOptions & {
  /** Default 0: any free port (the answer says which). */
  readonly port?: number;
  /** Default 127.0.0.1: reachable from this machine only. */
  readonly host?: string;
  /** How long close() lets requests in flight finish before cutting connections. Default 10 s. */
  readonly shutdownTimeoutMs?: number;
};

export type RunningServer = {
  readonly url: string;
  readonly port: number;
  readonly app: SyncApp;
  /** Graceful: stops accepting, finishes the requests in flight, ends live streams, closes Redis. */
  close(): Promise<void>;
};

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { port = 0, host = '127.0.0.1', shutdownTimeoutMs = 10_000, ...appOptions } = options;
  const app = createSyncApp(appOptions);
  await app.connected();
  const server = await new Promise<Server>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, port, hostname: host }) as Server;
    started.once('error', reject);
    started.once('listening', () => {
      started.off('error', reject);
      resolve(started);
    });
  });
  const actual = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;

  let closing: Promise<void> | undefined;
  const close = async () => {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, shutdownTimeoutMs);
      timer.unref();
    });
    // Idle keep-alive sockets would hold server.close() open; busy ones finish their request.
    server.closeIdleConnections();
    await Promise.race([app.close(), deadline]);
    clearTimeout(timer);
    server.closeAllConnections();
    await stopped;
  };

  return {
    url,
    port: actual,
    app,
    close: () => (closing ??= close()),
  };
}
