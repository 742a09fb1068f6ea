import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { Cluster, Redis } from 'ioredis';
import { TallyError } from '../core/errors.ts';
import type { AppEnv } from './app-env.ts';
import { createAccessStore, type AccessStore } from './access-store.ts';
import { createSpaceTokens, type SpaceGate, type SpaceTokens } from './auth.ts';
import { UnsupportedContentCoding, plainBodies } from './content-type.ts';
import { describeError, MethodNotAllowed, TooManyRequests } from './errors.ts';
import { createLiveFeed, revokedPrefix, type LiveFeed } from './live-feed.ts';
import { resolveOptions, type SyncAppOptions } from './options.ts';
import {
  createRedisClient,
  watchRedis,
  type RedisConnection,
  type RedisState,
} from './redis-client.ts';
import { createRedisStore, redisKeys, type SyncStore } from './redis-store.ts';
import { jsonLinesLog, requestLog, type RequestLog } from './request-log.ts';
import { eventsRoute } from './routes/events.ts';
import { healthRoute } from './routes/health.ts';
import { liveRoute } from './routes/live.ts';
import { Revocations } from './revocations.ts';
import { devicesRoute } from './routes/devices.ts';
import { pushRoute } from './routes/push.ts';
import { snapshotsRoute } from './routes/snapshots.ts';
import { spacesRoute } from './routes/spaces.ts';
import { streamsRoute } from './routes/streams.ts';
import { securityHeaders } from './security-headers.ts';
import { servedMethods } from './served-methods.ts';
import { staticFiles } from './static-files.ts';

export type SyncApp = Hono<AppEnv> & {
  readonly tokens: SpaceTokens;
  /** The name of every Redis connection this app opens (CLIENT LIST), unique per instance. */
  readonly connectionName: string;
  /**
   * Resolves once the Redis connection is ready, or after `timeoutMs` when Redis is not there
   * (the server then starts anyway, answers 503 and heals by itself): the first requests should
   * not fail only because the connection was still being made.
   */
  connected(timeoutMs?: number): Promise<void>;
  /** Requests being handled (open live streams counted apart), for shutdown and tests. */
  stats(): {
    readonly inFlight: number;
    readonly liveStreams: number;
    /** Spaces this instance follows live. */
    readonly liveSpaces: number;
  };
  /**
   * Stops taking requests (503), ends live streams, waits for the requests in flight — a push
   * that was taken is finished — and closes the Redis connection the app opened.
   */
  close(): Promise<void>;
};

type Backend = {
  /** Undefined when the caller gave the stores (`options.storage`). */
  readonly redis?: RedisConnection;
  readonly owned: boolean;
  readonly store: SyncStore;
  readonly access: AccessStore;
  readonly live: LiveFeed;
};

/** Without Redis there is nothing to follow: a live feed is refused like any request needing it. */
const noLiveFeed: LiveFeed = {
  subscribe: () =>
    Promise.reject(new TallyError('unavailable', 'This sync server has no live feed.')),
  wake: () => {},
  stats: () => ({ spaces: 0, subscribers: 0 }),
  close: async () => {},
};

/**
 * The sync server as a Hono app (docs/architecture.md, "Sync rules"). Options are checked here, at once, so a bad
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

  const connectionName = `tally-${randomBytes(6).toString('base64url')}`;
  let backend: Backend | undefined;
  /** Removed devices' live feeds on this instance, told by the route or by another instance. */
  const revocations = new Revocations();
  if (config.storage) {
    const { store, access, live = noLiveFeed } = config.storage;
    backend = { owned: false, store, access, live };
  } else if (config.redis !== false) {
    const given = config.redis;
    const owned = !(given instanceof Redis || given instanceof Cluster);
    const redis = owned ? createRedisClient(given, onRedisState, connectionName) : given;
    if (!owned) watchRedis(redis, onRedisState);
    // Made after the store, which tells it of every append this instance runs.
    const made: { live?: LiveFeed } = {};
    const store = createRedisStore(redis, {
      maxEventsPerSpace: config.maxEventsPerSpace,
      waitReplicas: config.redisWaitReplicas,
      waitTimeoutMs: config.redisWaitTimeoutMs,
      snapshots: { budget: config.snapshotFoldBudget },
      // This instance's followers hear its own appends at once, not after pub/sub's round trip.
      appended: (space, wake) => made.live?.wake(space, wake),
    });
    const live = (made.live = createLiveFeed({
      redis,
      store,
      rereadMs: config.liveRereadMs,
      maxSpaces: config.maxLiveSpaces,
      onRevoked: (space, device) => revocations.revoke(space, device),
    }));
    backend = {
      redis,
      owned,
      store,
      // Its scripts and commands name the keys of one space or one address, which a Cluster
      // routes by slot like any other: the Redis type is only what access-store.ts spells.
      access: createAccessStore(redis as Redis),
      live,
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

  app.use(
    '/api/*',
    servedMethods(() => app.routes),
  );
  app.use('/api/*', plainBodies());

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
  app.route(
    '/',
    devicesRoute(gate, {
      inviteTtlMs: config.inviteTtlMs,
      onRevoked: (space, device) => {
        revocations.revoke(space, device);
        // Every instance that follows the space live hears it on the space's channel.
        void (backend?.redis as Redis | undefined)
          ?.spublish(redisKeys.wake(space), `${revokedPrefix}${device}`)
          .catch(() => undefined);
      },
    }),
  );
  app.route('/', pushRoute({ gate, store }));
  app.route('/', eventsRoute({ gate, store }));
  app.route('/', snapshotsRoute({ gate, store }));
  app.route('/', streamsRoute({ gate, store }));
  app.route(
    '/',
    liveRoute({
      gate,
      store,
      live: () => need().live,
      heartbeatMs: config.heartbeatMs,
      maxConnections: config.maxLiveConnectionsPerSpace,
      maxPerDevice: config.maxLivePerDevice,
      maxPerAddress: config.maxLivePerAddress,
      leaseMs: config.liveLeaseMs,
      onStream: (delta) => (liveStreams += delta),
      revocations,
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
    if (error instanceof MethodNotAllowed) c.header('Allow', error.allow.join(', '));
    if (error instanceof UnsupportedContentCoding)
      c.header('Accept-Encoding', error.acceptEncoding);
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
    connectionName,
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
    stats: () => ({
      inFlight,
      liveStreams,
      liveSpaces: backend?.live.stats().spaces ?? 0,
    }),
    async close() {
      closing = true;
      await backend?.live.close();
      if (inFlight > 0) await new Promise<void>((resolve) => idle.push(resolve));
      await backend?.store.idle?.();
      if (backend?.owned) await backend.redis?.quit().catch(() => backend?.redis?.disconnect());
    },
  });
}
