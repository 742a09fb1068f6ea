import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import { TallyError } from '../core/errors.ts';
import type { AppEnv } from './app-env.ts';
import { createAccessStore, type AccessStore } from './access-store.ts';
import { createSpaceTokens, type SpaceGate, type SpaceTokens } from './auth.ts';
import { describeError, TooManyRequests } from './errors.ts';
import { createLiveFeed, type LiveFeed } from './live-feed.ts';
import { resolveOptions, type SyncAppOptions } from './options.ts';
import { createRedisClient, watchRedis, type RedisState } from './redis-client.ts';
import { createRedisStore, type SyncStore } from './redis-store.ts';
import { jsonLinesLog, requestLog, type RequestLog } from './request-log.ts';
import { eventsRoute } from './routes/events.ts';
import { healthRoute } from './routes/health.ts';
import { liveRoute } from './routes/live.ts';
import { devicesRoute } from './routes/devices.ts';
import { pushRoute } from './routes/push.ts';
import { spacesRoute } from './routes/spaces.ts';
import { securityHeaders } from './security-headers.ts';
import { staticFiles } from './static-files.ts';

export type SyncApp = Hono<AppEnv> & {
  readonly tokens: SpaceTokens;
  /**
   * Resolves once the Redis connection is ready, or after `timeoutMs` when Redis is not there
   * (the server then starts anyway, answers 503 and heals by itself): the first requests should
   * not fail only because the connection was still being made.
   */
  connected(timeoutMs?: number): Promise<void>;
  /** Requests being handled (open live streams counted apart), for shutdown and tests. */
  stats(): { readonly inFlight: number; readonly liveStreams: number };
  /**
   * Stops taking requests (503), ends live streams, waits for the requests in flight — a push
   * that was taken is finished — and closes the Redis connection the app opened.
   */
  close(): Promise<void>;
};

type Backend = {
  readonly redis: Redis;
  readonly owned: boolean;
  readonly store: SyncStore;
  readonly access: AccessStore;
  readonly live: LiveFeed;
};

/**
 * The sync server as a Hono app (DESIGN.md §4). Options are checked here, at once, so a bad
 * configuration fails at start-up rather than on the first request.
 */
export function createSyncApp(options: SyncAppOptions): SyncApp {
  const config = resolveOptions(options);
  const tokens = createSpaceTokens(config.secret);
  const log: RequestLog | undefined =
    config.log === false ? undefined : (config.log ?? jsonLinesLog);
  let closing = false;
  const onRedisState = (state: RedisState, error?: Error) => {
    // Closing the connection on shutdown is no outage worth a log line.
    if (closing) return;
    log?.({
      time: new Date().toISOString(),
      event: `redis-${state}`,
      message:
        state === 'up'
          ? 'Connected to Redis.'
          : `Redis is unreachable: ${error?.message ?? 'connection closed'}.`,
    });
  };

  let backend: Backend | undefined;
  if (config.redis !== false) {
    const owned = typeof config.redis === 'string';
    const redis =
      typeof config.redis === 'string'
        ? createRedisClient(config.redis, onRedisState)
        : config.redis;
    if (!owned) watchRedis(redis, onRedisState);
    const store = createRedisStore(redis, { maxEventsPerSpace: config.maxEventsPerSpace });
    backend = {
      redis,
      owned,
      store,
      access: createAccessStore(redis),
      live: createLiveFeed({
        redis,
        store,
        blockMs: config.liveBlockMs,
        maxSpaces: config.maxLiveSpaces,
      }),
    };
  }
  const need = (): Backend => {
    if (!backend)
      throw new TallyError(
        'unavailable',
        'This sync server runs without a database, so it cannot sync.',
      );
    return backend;
  };
  const store = () => need().store;

  let inFlight = 0;
  let liveStreams = 0;
  const idle: (() => void)[] = [];

  const app = new Hono<AppEnv>();
  if (log) app.use(requestLog(log));
  app.use(securityHeaders());
  app.use(async function inFlightRequests(c, next) {
    if (closing) {
      c.header('Connection', 'close');
      throw new TallyError('unavailable', 'The sync server is shutting down. Try again shortly.');
    }
    inFlight++;
    try {
      await next();
    } finally {
      if (--inFlight === 0) for (const wake of idle.splice(0)) wake();
    }
  });

  const gate: SpaceGate = { tokens, access: () => need().access, rateLimit: config.rateLimit };
  app.route('/', healthRoute({ store: backend?.store }));
  app.route(
    '/',
    spacesRoute({
      tokens,
      rateLimit: config.rateLimit,
      access: backend?.access,
      allowCreateSpaces: config.allowCreateSpaces,
    }),
  );
  app.route('/', devicesRoute(gate));
  app.route('/', pushRoute({ gate, store }));
  app.route('/', eventsRoute({ gate, store }));
  app.route(
    '/',
    liveRoute({
      gate,
      store,
      live: () => need().live,
      heartbeatMs: config.heartbeatMs,
      maxConnections: config.maxLiveConnectionsPerSpace,
      leaseMs: config.liveLeaseMs,
      onStream: (delta) => (liveStreams += delta),
    }),
  );
  if (config.staticDir !== false) app.use(staticFiles(config.staticDir));

  app.notFound((c) =>
    c.json(
      {
        error: {
          code: 'not-found',
          message: `Nothing at ${c.req.method} ${c.req.path.slice(0, 200)}.`,
        },
      },
      404,
    ),
  );
  app.onError((error, c) => {
    const { status, body, unexpected } = describeError(error);
    c.set('errorCode', body.error.code);
    // The unread rest of a too-large body is still on its way: this connection cannot carry
    // another request, and a client must not try.
    if (status === 413) c.header('Connection', 'close');
    if (error instanceof TooManyRequests) c.header('Retry-After', String(error.retryAfterSeconds));
    if (unexpected)
      log?.({
        time: new Date().toISOString(),
        event: 'error',
        message: String(error instanceof Error ? error.stack : error),
      });
    return c.json(body, status);
  });

  return Object.assign(app, {
    tokens,
    async connected(timeoutMs = 2_000) {
      const redis = backend?.redis;
      if (!redis || redis.status === 'ready') return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          redis.off('ready', done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        redis.once('ready', done);
      });
    },
    stats: () => ({ inFlight, liveStreams }),
    async close() {
      closing = true;
      await backend?.live.close();
      if (inFlight > 0) await new Promise<void>((resolve) => idle.push(resolve));
      if (backend?.owned) await backend.redis.quit().catch(() => backend?.redis.disconnect());
    },
  });
}
