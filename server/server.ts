import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createSyncApp, type SyncApp } from './app.ts';
import type { SyncAppOptions } from './options.ts';
import { secureServer } from './secure-server.ts';

export type ServerOptions = SyncAppOptions & {
  /** Default 0: any free port (the answer says which). */
  readonly port?: number;
  /** Default 127.0.0.1: reachable from this machine only. */
  readonly host?: string;
  /** How long close() lets requests in flight finish before cutting connections. Default 10 s. */
  readonly shutdownTimeoutMs?: number;
  /**
   * How long a client may take to send a whole request, body included; then Node answers 408
   * and closes the connection. Default 30 s: the largest body (1 MiB) at 35 KB/s. A live feed is
   * not limited by it: the request is whole once its headers are in.
   */
  readonly requestTimeoutMs?: number;
  /** How long a client may take to send the request's headers. Default 10 s. */
  readonly headersTimeoutMs?: number;
  /**
   * Serve HTTPS with this certificate and key (PEM): HTTP/2, and HTTP/1.1 for clients without
   * it (ALPN). A phone on the network needs a secure origin for Tally to run at all.
   */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
};

const timeout = (name: string, value: number, max: number) => {
  if (!Number.isInteger(value) || value < 100 || value > max)
    throw new TypeError(`${name} must be a whole number of milliseconds from 100 to ${max}.`);
  return value;
};

export type RunningServer = {
  readonly url: string;
  readonly port: number;
  readonly app: SyncApp;
  /** The Node server underneath (its timeouts, for tests; with TLS, an Http2SecureServer). */
  readonly http: Server;
  /** Graceful: stops accepting, finishes the requests in flight, ends live streams, closes Redis. */
  close(): Promise<void>;
};

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const {
    port = 0,
    host = '127.0.0.1',
    shutdownTimeoutMs = 10_000,
    requestTimeoutMs = 30_000,
    headersTimeoutMs = Math.min(10_000, requestTimeoutMs),
    tls,
    ...appOptions
  } = options;
  const requestTimeout = timeout('requestTimeoutMs', requestTimeoutMs, 3_600_000);
  // Node requires headersTimeout ≤ requestTimeout.
  const headersTimeout = timeout('headersTimeoutMs', headersTimeoutMs, requestTimeout);
  const app = createSyncApp(appOptions);
  await app.connected();
  const timeouts = {
    requestTimeout,
    headersTimeout,
    // Node checks both timeouts only this often (default 30 s, which would double them).
    connectionsCheckingInterval: Math.min(1_000, Math.ceil(headersTimeout / 4)),
  };
  // Node 20 does not keep the timeouts over TLS by itself (secure-server.ts).
  const secure = tls ? secureServer(timeouts) : undefined;
  const server = await new Promise<Server>((resolve, reject) => {
    const started = (
      tls && secure
        ? serve({
            fetch: app.fetch,
            port,
            hostname: host,
            createServer: secure.createServer,
            // A TLS handshake gets the headers' time, not Node's two minutes.
            serverOptions: {
              cert: tls.cert,
              key: tls.key,
              allowHTTP1: true,
              handshakeTimeout: headersTimeout,
            },
          })
        : serve({ fetch: app.fetch, port, hostname: host, serverOptions: timeouts })
    ) as Server;
    started.once('error', reject);
    started.once('listening', () => {
      started.off('error', reject);
      resolve(started);
    });
  });
  // Requests whose body is still on its way, with when they began. server.close() stops Node's
  // own timeout checks, so shutdown enforces the request timeout on these itself. (HTTP/2 streams
  // have their own timer, which server.close() does not stop: secure-server.ts.)
  const receiving = new Map<IncomingMessage, number>();
  server.on('request', (request: IncomingMessage) => {
    if (request.complete || request.httpVersionMajor === 2) return;
    receiving.set(request, Date.now());
    const done = () => receiving.delete(request);
    request.once('end', done);
    request.once('close', done);
  });
  const cutOffSlowBodies = () => {
    for (const [request, began] of receiving) {
      if (request.complete) continue;
      const cut = setTimeout(
        () => void (request.complete || request.socket.destroy()),
        Math.max(0, began + requestTimeout - Date.now()),
      );
      cut.unref();
      request.once('close', () => clearTimeout(cut));
    }
  };

  const actual = (server.address() as AddressInfo).port;
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actual}`;

  let closing: Promise<void> | undefined;
  const close = async () => {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, shutdownTimeoutMs);
      timer.unref();
    });
    // Idle keep-alive sockets would hold server.close() open; busy ones finish their request,
    // within the request timeout. Node 20 leaves HTTP/2 sessions open too, idle or not: they
    // are asked to finish theirs (GOAWAY).
    server.closeIdleConnections();
    secure?.closeSessions();
    cutOffSlowBodies();
    await Promise.race([app.close(), deadline]);
    clearTimeout(timer);
    (secure ?? server).closeAllConnections();
    await stopped;
  };

  return {
    url,
    port: actual,
    app,
    http: server,
    close: () => (closing ??= close()),
  };
}
