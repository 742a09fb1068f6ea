import { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { minSecretLength } from './auth.ts';
import type { AccessStore } from './access-store.ts';
import type { LiveFeed } from './live-feed.ts';
import type { SyncStore } from './redis-store.ts';
import type { RequestLog } from './request-log.ts';

/**
 * Stores given by the caller instead of Redis, for tests of routing and validation over the
 * store interfaces (`redis` is then `false`). Whatever is about storage is tested against Redis.
 */
export type SyncStorage = {
  readonly store: SyncStore;
  readonly access: AccessStore;
  /** Default: none, so a live feed answers 503. */
  readonly live?: LiveFeed;
};

export type SyncAppOptions = {
  /**
   * Where events live: a Redis URL, or `{ cluster: ['host:port', …] }`, the seed nodes of a Redis
   * Cluster (the app owns that connection and closes it); an ioredis client, `Redis` or `Cluster`
   * (the caller owns it); or `false` to run without a database (every sync request answers 503).
   */
  readonly redis: string | { readonly cluster: readonly string[] } | Redis | Cluster | false;
  /**
   * Replicas that must have an accepted push before it is acked (Redis `WAIT`); 0, the default,
   * waits for none. When fewer confirm within `redisWaitTimeoutMs` the push answers 503: it is
   * stored on the master, and the device's retry is answered `accepted` (README, Reliability).
   */
  readonly redisWaitReplicas?: number;
  /** How long an ack waits for `redisWaitReplicas`. Default 1 s. */
  readonly redisWaitTimeoutMs?: number;
  readonly storage?: SyncStorage;
  /** The HMAC key that signs space tokens; at least 32 characters. */
  readonly secret: string;
  /** Whether anyone may create a space with `POST /api/spaces`. Default true. */
  readonly allowCreateSpaces?: boolean;
  /** The built PWA to serve, or `false` for an API-only server. Default `dist`. */
  readonly staticDir?: string | false;
  /** How often a live feed sends a keep-alive comment. Default 15 s. */
  readonly heartbeatMs?: number;
  /**
   * How often a live follower reads its space's feed without having been woken: wake-ups are
   * pub/sub messages, which Redis may drop (a reconnect, a failover). Default 5 s.
   */
  readonly liveRereadMs?: number;
  /** Where request logs go: one JSON object per request. `false` for silence. */
  readonly log?: RequestLog | false;
  /**
   * Request limits, counted in Redis so they hold across instances; over one → 429 with
   * `Retry-After`. `false` turns them off (tests that prove a refused request writes nothing).
   * Defaults are far above what syncing devices send.
   */
  readonly rateLimit?: Partial<RateLimits> | false;
  /** Live feeds open at once per space, across all instances. Default 20. */
  readonly maxLiveConnectionsPerSpace?: number;
  /**
   * Events one space may hold; a push past it is refused (403) and stores nothing. Default
   * 1,000,000: a person's counters, not a free store for anyone with a token.
   */
  readonly maxEventsPerSpace?: number;
  /**
   * Events one request for a page of snapshots folds at most (a stream needing more is folded
   * over several requests). Default 10,000.
   */
  readonly snapshotFoldBudget?: number;
  /**
   * Spaces this instance follows live at once (each costs memory and a sharded subscription, no
   * connection); past it a new live feed is refused with 503. Default 10,000.
   */
  readonly maxLiveSpaces?: number;
  /** Live feeds one device token may hold open on this instance; past it 429. Default 4. */
  readonly maxLivePerDevice?: number;
  /**
   * Live feeds one client address may hold open on this instance; past it 429. Default 500
   * (addresses behind one NAT share it). Behind a load balancer every client has the balancer's
   * address: raise it there.
   */
  readonly maxLivePerAddress?: number;
  /**
   * How long a live connection's lease lasts without renewal; a stream renews it every third of
   * that. It bounds how long the connections of a crashed instance still count, and how soon an
   * open feed of a device that left is ended. Default 30 s.
   */
  readonly liveLeaseMs?: number;
  /** How long a pairing invite works (single use). Default 15 minutes. */
  readonly inviteTtlMs?: number;
};

export type RateLimits = {
  /** Requests with a genuine token of one space, per window. Default 1,200. */
  readonly perSpacePerMinute: number;
  /** `POST /api/spaces` per client address, per window. Default 60. */
  readonly createPerIpPerMinute: number;
  /** Requests refused for their token (401, 403) per client address, per window. Default 300. */
  readonly refusedPerIpPerMinute: number;
  /** The window of all three counts. Default one minute; tests shorten it. */
  readonly windowMs: number;
};

const count = z.number().int().min(1).max(1_000_000_000);

const rateLimitSchema = z.strictObject({
  perSpacePerMinute: count.default(1_200),
  createPerIpPerMinute: count.default(60),
  refusedPerIpPerMinute: count.default(300),
  windowMs: z.number().int().min(100).max(3_600_000).default(60_000),
});

const optionsSchema = z
  .strictObject({
    redis: z.union([
      z.url({ protocol: /^rediss?$/ }),
      z.strictObject({
        cluster: z
          .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'Expected host:port.'))
          .min(1)
          .readonly(),
      }),
      z.instanceof(Redis),
      z.instanceof(Cluster),
      z.literal(false),
    ]),
    redisWaitReplicas: z.number().int().min(0).max(100).default(0),
    redisWaitTimeoutMs: z.number().int().min(1).max(60_000).default(1_000),
    secret: z
      .string()
      .min(minSecretLength, `The server secret must be at least ${minSecretLength} characters.`),
    allowCreateSpaces: z.boolean().default(true),
    staticDir: z.union([z.string().min(1), z.literal(false)]).default('dist'),
    heartbeatMs: z.number().int().min(10).max(600_000).default(15_000),
    liveRereadMs: z.number().int().min(10).max(600_000).default(5_000),
    rateLimit: z
      .union([rateLimitSchema, z.literal(false)])
      .default(() => rateLimitSchema.parse({})),
    maxLiveConnectionsPerSpace: z.number().int().min(1).max(100_000).default(20),
    maxEventsPerSpace: z.number().int().min(1).max(1_000_000_000).default(1_000_000),
    snapshotFoldBudget: z.number().int().min(1).max(1_000_000).default(10_000),
    maxLiveSpaces: z.number().int().min(1).max(1_000_000).default(10_000),
    maxLivePerDevice: z.number().int().min(1).max(100_000).default(4),
    maxLivePerAddress: z.number().int().min(1).max(1_000_000).default(500),
    liveLeaseMs: z.number().int().min(300).max(600_000).default(30_000),
    inviteTtlMs: z
      .number()
      .int()
      .min(10_000)
      .max(7 * 24 * 60 * 60 * 1000)
      .default(15 * 60 * 1000),
    storage: z
      .custom<SyncStorage>(
        (storage) => typeof storage === 'object' && storage !== null && 'store' in storage,
        'Expected { store, access }.',
      )
      .optional(),
    log: z
      .union([
        z.custom<RequestLog>((log) => typeof log === 'function', 'Expected a function.'),
        z.literal(false),
      ])
      .optional(),
  })
  .refine((options) => !options.storage || options.redis === false, {
    message: 'Given stores (`storage`) need `redis: false`.',
  });

export type ResolvedOptions = z.output<typeof optionsSchema>;

/** Throws at construction, naming every bad option, rather than on the first request. */
export function resolveOptions(options: SyncAppOptions): ResolvedOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new TypeError(`Invalid sync server options: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
