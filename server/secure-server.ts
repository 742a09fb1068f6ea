import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type SecureServerOptions,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** The timeouts plain HTTP is given as options (server.ts explains each). */
export type Timeouts = {
  readonly requestTimeout: number;
  readonly headersTimeout: number;
  readonly connectionsCheckingInterval: number;
};

export type SecureServer = {
  /** For @hono/node-server's `createServer`, called as (options, listener). */
  readonly createServer: typeof createSecureServer;
  /** Asks every HTTP/2 session to finish (GOAWAY): its streams in flight end, it takes no more. */
  closeSessions(): void;
  /**
   * Ends every connection now, HTTP/2 sessions and HTTP/1.1 alike, with what is in flight on them
   * (the shutdown deadline; this server has no closeAllConnections()).
   */
  closeAllConnections(): void;
};

/**
 * HTTPS (HTTP/2, and HTTP/1.1 by ALPN) that keeps the timeouts plain HTTP keeps, and lets go of
 * its sessions at shutdown.
 *
 * Node 20 ignores requestTimeout, headersTimeout and connectionsCheckingInterval among
 * createSecureServer's options: its constructor sets 300 s, 60 s and 30 s for its HTTP/1.1
 * connections, so a stalled HTTP/1.1 body was held five minutes. They are set again on the server
 * before it listens (the checking interval is read on 'listening'; the timeouts at each check).
 *
 * HTTP/2 streams get no request timeout from Node at all, so each stream whose body is still
 * coming at the request timeout is ended here: answered 408 then reset with NO_ERROR, which
 * RFC 9113 §8.1 provides for "a server MAY request that the client abort transmission of a request
 * without error by sending a RST_STREAM with an error code of NO_ERROR after sending a complete
 * response"; reset with CANCEL if an answer had already begun. A stream whose HEADERS ended it
 * (every GET, a live feed among them) is whole at once, as for HTTP/1.1.
 *
 * Node 20's server.close() does not close HTTP/2 sessions, and a browser keeps an idle one open,
 * so shutdown would wait for the client: server.ts closes them with closeSessions().
 */
/** How long a kept-alive HTTP/1.1 connection waits for its next request: Node's plain default. */
const keepAliveTimeout = 5_000;
/**
 * How long an HTTP/2 session may carry nothing before it is asked to close (GOAWAY): longer than
 * a live feed's heartbeat (15 s), so a session with a live feed is never idle.
 */
export const sessionIdleMs = 60_000;

export function secureServer(timeouts: Timeouts): SecureServer {
  const sessions = new Set<Http2Session>();
  const connections = new Set<TLSSocket>();
  // Every TCP connection, from before its TLS handshake: one that never finishes it would hold
  // server.close() until its handshake timeout.
  const sockets = new Set<Socket>();
  const { requestTimeout } = timeouts;

  const endStalled = (request: Http2ServerRequest, response: Http2ServerResponse) => {
    const { stream } = request;
    if (stream.closed || stream.destroyed || stream.state.remoteClose) return;
    if (response.headersSent) return void stream.close(constants.NGHTTP2_CANCEL);
    // Through the compatibility response, which then counts as answered: the handler still
    // waiting on the body fails once the stream is closed, and its own answer is dropped.
    response.writeHead(408, { 'Content-Length': '0' });
    response.end(() => stream.close(constants.NGHTTP2_NO_ERROR));
  };

  return {
    createServer: ((
      options: SecureServerOptions,
      listener: (request: Http2ServerRequest, response: Http2ServerResponse) => void,
    ): Http2SecureServer => {
      const server = createSecureServer(options, listener);
      // Node leaves keepAliveTimeout unset here: a kept-alive HTTP/1.1 connection stayed open.
      Object.assign(server, timeouts, { keepAliveTimeout });
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      server.on('secureConnection', (socket: TLSSocket) => {
        connections.add(socket);
        socket.once('close', () => connections.delete(socket));
      });
      server.on('session', (session: Http2Session) => {
        sessions.add(session);
        session.once('close', () => sessions.delete(session));
        // An idle session is not kept for ever (a browser keeps one open for reuse).
        session.setTimeout(sessionIdleMs, () => session.close());
      });
      server.on('request', (request: Http2ServerRequest, response: Http2ServerResponse) => {
        // HTTP/1.1 over TLS has Node's own check (above); only HTTP/2 has `stream`.
        if (request.httpVersionMajor !== 2 || request.stream.endAfterHeaders) return;
        const cut = setTimeout(() => endStalled(request, response), requestTimeout);
        cut.unref();
        request.stream.once('close', () => clearTimeout(cut));
      });
      return server;
    }) as typeof createSecureServer,
    closeSessions() {
      for (const session of sessions) session.close();
    },
    closeAllConnections() {
      for (const socket of connections) socket.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}
