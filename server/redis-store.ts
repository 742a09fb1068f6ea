import { TallyError } from '../core/errors.ts';
import { limits, type FeedEntry, type PushResult, type SnapshotPage } from '../core/protocol.ts';
import type { StreamSnapshot } from '../core/stream-snapshot.ts';
import { appendScript } from './append-script.ts';
import { unavailable } from './errors.ts';
import { deleteScript } from './delete-script.ts';
import { compareCursors, lastCursor } from './cursor.ts';
import { mastersHealth, type MasterHealth, type RedisConnection } from './redis-client.ts';
import { createSnapshots, type SnapshotOptions } from './snapshots.ts';
import { parseFeedEntry, parseStoredEvent, serializeEvent, type Envelope } from './stored-event.ts';

/**
 * Keys carry the space as a hash tag (`{…}`), so all keys of one space share a Cluster slot and a
 * script may touch them together.
 */
export const redisKeys = {
  stream: (space: string, stream: string) => `tally:{${space}}:s:${stream}`,
  feed: (space: string) => `tally:{${space}}:feed`,
  /** Every event id the space stores (since issue 13) → `<stream> <version>`: one id, one event. */
  ids: (space: string) => `tally:{${space}}:ids`,
  /**
   * Every stream of the space → its snapshot's JSON (`0` before one is folded), and
   * `~appended`, the feed entries the indexing scripts added (append-script.ts, snapshots.ts).
   */
  snaps: (space: string) => `tally:{${space}}:snaps`,
  /** Streams deleted forever → their tombstone's JSON: what a push to one is answered with. */
  deleted: (space: string) => `tally:{${space}}:deleted`,
  /** Deleted streams whose events are swept out of the feed and id index: swept once. */
  swept: (space: string) => `tally:{${space}}:swept`,
  /**
   * The sharded pub/sub channel an append announces its feed entries (or its last feed id) on
   * (append-script.ts). A channel, not a key; the hash tag puts it on the space's shard.
   */
  wake: (space: string) => `tally:{${space}}:wake`,
};

/** The space a wake-up channel names, or undefined for any other channel. */
export const spaceOfWake = (channel: string): string | undefined =>
  /^tally:\{(.+)\}:wake$/.exec(channel)?.[1];

export type StreamAppend = {
  readonly stream: string;
  readonly expectedVersion: number;
  /** The pushing device's event id at `expectedVersion`, when it sent one. */
  readonly expectedId?: string;
  readonly events: readonly Envelope[];
  /** Each event's stored JSON (`serializeEvent`), where validation made it already. */
  readonly serialized?: readonly string[];
};

export type FeedPage = { readonly entries: FeedEntry[]; readonly more: boolean };

export interface SyncStore {
  /** One atomic step per stream; every stream of one call in one round trip. */
  append(space: string, streams: readonly StreamAppend[]): Promise<PushResult[]>;
  /** Feed entries strictly after `after` (`0`: from the beginning). */
  readFeed(space: string, after: string, limit: number): Promise<FeedPage>;
  /** Up to `limit` of a stream's events after version `after`, and its length; its tombstone. */
  readStreamPage(
    space: string,
    stream: string,
    after: number,
    limit: number,
  ): Promise<
    | { readonly type: 'stream'; readonly events: readonly Envelope[]; readonly version: number }
    | { readonly type: 'deleted'; readonly tombstone: Envelope }
  >;
  /**
   * The stream's stored snapshot where one can be folded on (snapshots.ts), so that a deletion
   * reads only the events after it. A store that keeps none leaves it out, and a stream without
   * one is read from its first event, a page at a time.
   */
  streamSnapshot?(space: string, stream: string): Promise<StreamSnapshot | undefined>;
  /**
   * Deletes a stream forever if it is still `length` events long ending with `lastId`: its list
   * goes, its tombstone goes into the feed, and its events are swept out of the feed and the id
   * index. `changed` when another device wrote to it meanwhile (nothing is written); `deleted`
   * when it was deleted already (the sweep runs again, finishing one a crash cut short).
   */
  deleteStream(
    space: string,
    stream: string,
    expected: { readonly length: number; readonly lastId: string },
    tombstone: Envelope,
  ): Promise<'deleted' | 'changed'>;
  /** The cursor of the newest feed entry, or `0-0` for an empty feed; its event's stream. */
  feedHead(space: string): Promise<{ readonly cursor: string; readonly stream?: string }>;
  /**
   * Undefined while the feed holds the entry `cursor` names. When it does not (Redis lost it in
   * a failover, or it was swept out with a stream deleted forever), the newest entry the feed
   * holds before it, `0` for none: where the feed went back to (docs/architecture.md,
   * "Failover"). One read, in the space's slot. Given `stream`, the stream of that entry:
   * undefined as well when that stream was deleted forever, since its entry was then swept out
   * (a failover loses the feed's last writes, and the tombstone after it is held).
   */
  wentBack(space: string, cursor: string, stream?: string): Promise<string | undefined>;
  /**
   * One page of the space's streams, each folded up to at least the feed's position the page
   * names (snapshots.ts). Throws `conflict` when the space cannot be read that way.
   */
  snapshots(space: string, page: string): Promise<SnapshotPage>;
  /** Waits for the background work under way (snapshots being folded): shutdown, tests. */
  idle?(): Promise<void>;
  ping(): Promise<boolean>;
  /** Every master with whether it answers (one node: that node). Stores not in Redis have none. */
  masters?(): Promise<MasterHealth[]>;
}

export type RedisStoreOptions = {
  readonly maxEventsPerSpace: number;
  /** Replicas that must confirm an append before it is acked (WAIT); 0 for none. */
  readonly waitReplicas?: number;
  readonly waitTimeoutMs?: number;
  readonly snapshots?: SnapshotOptions;
  /**
   * An append published `wake` on the space's wake-up channel: this instance's live feed takes
   * it at once (`LiveFeed.wake`), before pub/sub's copy comes back.
   */
  readonly appended?: (space: string, wake: string) => void;
};

type AppendCommand = {
  tallyAppend(numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
  tallyDelete(numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
};

/** Feed entries read per round trip while sweeping a deleted stream's events out of the feed. */
const sweepPage = 1_000;

/** The wake-up message the append script published, after its replies (append-script.ts). */
const wakeOf = (reply: unknown[], streams: number): string | undefined =>
  reply.length === streams + 1 && typeof reply[streams] === 'string'
    ? (reply[streams] as string)
    : undefined;

/** Whether a script reply accepted any stream (a retry of stored events counts: it may be new). */
const appendedAnything = (reply: unknown): boolean =>
  Array.isArray(reply) && reply.some((stream) => Array.isArray(stream) && stream[0] === 1);

const appendResult = (stream: string, raw: unknown): PushResult => {
  if (Array.isArray(raw)) {
    const [status, version, ...rest] = raw as unknown[];
    if (typeof version === 'number') {
      if (status === 1) return { stream, status: 'accepted', version };
      if (status === 2) return { stream, status: 'diverged', version };
      const [more, ...events] = rest;
      // `more` only when true, so an answer that is not paged is what clients always got.
      if (status === 0)
        return {
          stream,
          status: 'conflict',
          version,
          events: events.map(parseStoredEvent),
          ...(more === 1 ? { more: true } : {}),
        };
    }
  }
  throw new TallyError('unavailable', 'The sync server got an unexpected answer from Redis.');
};

const notReplicated = (replicas: number, acked: number) =>
  new TallyError(
    'unavailable',
    `It is stored, but only ${acked} of ${replicas} Redis replicas confirmed it in time. Try again: a retry of it is answered as done, and nothing is stored twice.`,
  );

export function createRedisStore(
  redis: RedisConnection,
  options: RedisStoreOptions = { maxEventsPerSpace: 1_000_000 },
): SyncStore {
  // EVALSHA with a fallback to EVAL, so the script survives a Redis restart (empty script cache).
  redis.defineCommand('tallyAppend', { lua: appendScript });
  redis.defineCommand('tallyDelete', { lua: deleteScript });
  const scripts = redis as RedisConnection & AppendCommand;
  const { waitReplicas = 0, waitTimeoutMs = 1_000 } = options;
  const snapshots = createSnapshots(
    redis,
    (space) => ({
      snaps: redisKeys.snaps(space),
      feed: redisKeys.feed(space),
      list: (stream) => redisKeys.stream(space, stream),
    }),
    options.snapshots,
  );

  /**
   * The script, then WAIT on the same connection when replicas are asked for: WAIT counts the
   * replicas that have everything this connection wrote, so it must follow the script there. A
   * pipeline sends both to the node of the script's slot, Cluster or not.
   */
  const runScript = async (
    script: 'tallyAppend' | 'tallyDelete',
    keys: string[],
    args: (string | number)[],
    wrote: (reply: unknown) => boolean,
  ): Promise<unknown> => {
    if (waitReplicas === 0) return scripts[script](keys.length, ...keys, ...args);
    const pipeline = redis.pipeline() as ReturnType<RedisConnection['pipeline']> &
      Record<typeof script, (numberOfKeys: number, ...args: (string | number)[]) => unknown>;
    pipeline[script](keys.length, ...keys, ...args);
    pipeline.call('WAIT', waitReplicas, waitTimeoutMs);
    const [ran, waited] = (await pipeline.exec()) ?? [];
    if (!ran || !waited) throw new Error('The Redis pipeline answered nothing.');
    if (ran[0]) throw ran[0];
    if (waited[0]) throw waited[0];
    const acked = Number(waited[1]);
    // Nothing written (a conflict, a retry) needs no replica: what it read was there already.
    if (acked < waitReplicas && wrote(ran[1])) throw notReplicated(waitReplicas, acked);
    return ran[1];
  };
  const run = (keys: string[], args: (string | number)[]) =>
    runScript('tallyAppend', keys, args, appendedAnything);

  /**
   * Removes a deleted stream's events from the feed and the id index, a page at a time: O(feed),
   * and deletions are rare. Only events of the stream go, never its tombstone.
   */
  const sweep = async (space: string, stream: string, tombstoneId: string): Promise<void> => {
    const feed = redisKeys.feed(space);
    let after = '-';
    for (;;) {
      let raw: unknown[];
      try {
        raw = await redis.xrange(feed, after, '+', 'COUNT', sweepPage);
      } catch (error) {
        throw unavailable(error);
      }
      const entries = raw.map(parseFeedEntry);
      const gone = entries.filter(
        ({ event }) => event.stream === stream && event.id !== tombstoneId,
      );
      try {
        if (gone.length > 0) {
          await redis.xdel(feed, ...gone.map((entry) => entry.cursor));
          await redis.hdel(redisKeys.ids(space), ...gone.map((entry) => entry.event.id));
        }
      } catch (error) {
        throw unavailable(error);
      }
      const last = entries.at(-1);
      if (raw.length < sweepPage || !last) return;
      after = `(${last.cursor}`;
    }
  };

  return {
    async append(space, streams) {
      const keys = [
        redisKeys.feed(space),
        redisKeys.ids(space),
        redisKeys.deleted(space),
        redisKeys.snaps(space),
      ];
      const args: (string | number)[] = [
        options.maxEventsPerSpace,
        limits.maxConflictEvents,
        redisKeys.stream(space, ''),
        redisKeys.wake(space),
      ];
      for (const { stream, expectedVersion, expectedId, events, serialized } of streams) {
        keys.push(redisKeys.stream(space, stream));
        args.push(expectedVersion, expectedId ?? '', events.length);
        events.forEach((event, i) => args.push(event.id, serialized?.[i] ?? serializeEvent(event)));
      }
      let reply: unknown;
      try {
        reply = await run(keys, args);
      } catch (error) {
        throw unavailable(error);
      }
      const [first] = Array.isArray(reply) ? reply : [];
      if (Array.isArray(first) && first[0] === -1)
        throw new TallyError(
          'forbidden',
          `This space is full: it holds ${Number(first[1])} events, and at most ${options.maxEventsPerSpace} are kept per space.`,
        );
      if (Array.isArray(first) && first[0] === -2)
        throw new TallyError(
          'invalid',
          `Event ${String(first[1])} is already stored in this space as another event: an event id names one event.`,
        );
      const wake = Array.isArray(reply) ? wakeOf(reply, streams.length) : undefined;
      if (!Array.isArray(reply) || reply.length !== streams.length + (wake === undefined ? 0 : 1))
        throw new TallyError('unavailable', 'The sync server got an unexpected answer from Redis.');
      const results = streams.map(({ stream }, index) => appendResult(stream, reply[index]));
      // Stored already: whatever the live feed does with it, the push is answered as stored.
      if (wake !== undefined)
        try {
          options.appended?.(space, wake);
        } catch (error) {
          console.error('Tally: the live feed could not take an append', error);
        }
      for (const [index, result] of results.entries())
        if (result.status === 'accepted') {
          const { stream, expectedVersion, expectedId, events } = streams[index]!;
          snapshots.grew(space, stream, expectedVersion, expectedId, events, result.version);
        }
      return results;
    },

    async readFeed(space, after, limit) {
      // Redis refuses `(` before the last possible id (there is no next one to start at).
      if (compareCursors(after, lastCursor) === 0) return { entries: [], more: false };
      const start = after === '0' ? '-' : `(${after}`;
      let raw: unknown[];
      try {
        // One more than asked tells whether another page waits.
        raw = await redis.xrange(redisKeys.feed(space), start, '+', 'COUNT', limit + 1);
      } catch (error) {
        throw unavailable(error);
      }
      const entries = raw.slice(0, limit).map(parseFeedEntry);
      return { entries, more: raw.length > limit };
    },

    async readStreamPage(space, stream, after, limit) {
      try {
        const list = redisKeys.stream(space, stream);
        const [tombstone, version, raw] = await Promise.all([
          redis.hget(redisKeys.deleted(space), stream),
          redis.llen(list),
          redis.lrange(list, after, after + limit - 1),
        ]);
        if (tombstone !== null) return { type: 'deleted', tombstone: parseStoredEvent(tombstone) };
        return { type: 'stream', events: raw.map(parseStoredEvent), version };
      } catch (error) {
        throw unavailable(error);
      }
    },

    async streamSnapshot(space, stream) {
      try {
        return await snapshots.stored(space, stream);
      } catch (error) {
        throw unavailable(error);
      }
    },

    async deleteStream(space, stream, expected, tombstone) {
      let reply: unknown;
      try {
        // Like a push, a deletion waits for the replicas asked for: a failover must not bring
        // back on the server a counter that devices already dropped at its tombstone.
        reply = await runScript(
          'tallyDelete',
          [
            redisKeys.feed(space),
            redisKeys.deleted(space),
            redisKeys.stream(space, stream),
            redisKeys.snaps(space),
          ],
          [
            stream,
            expected.length,
            expected.lastId,
            serializeEvent(tombstone),
            redisKeys.wake(space),
          ],
          // Deleted now or before (a retry): either way the answer says "deleted", so the
          // replicas must hold it.
          (raw) => Array.isArray(raw) && (raw[0] === 1 || raw[0] === 2),
        );
      } catch (error) {
        if (error instanceof TallyError) throw error;
        throw unavailable(error);
      }
      const [status, detail] = Array.isArray(reply) ? (reply as unknown[]) : [];
      if (status === 0) return 'changed';
      if (status !== 1 && status !== 2)
        throw new TallyError('unavailable', 'The sync server got an unexpected answer from Redis.');
      // Swept once: a retried DELETE (204 again) costs a lookup, not a pass over the feed.
      const swept = await redis
        .sismember(redisKeys.swept(space), stream)
        .catch((error: unknown) => {
          throw unavailable(error);
        });
      if (swept === 1) return 'deleted';
      await sweep(space, stream, status === 2 ? parseStoredEvent(detail).id : tombstone.id);
      await redis.sadd(redisKeys.swept(space), stream).catch((error: unknown) => {
        throw unavailable(error);
      });
      return 'deleted';
    },

    async feedHead(space) {
      let raw: unknown[];
      try {
        raw = await redis.xrevrange(redisKeys.feed(space), '+', '-', 'COUNT', 1);
      } catch (error) {
        throw unavailable(error);
      }
      const [newest] = raw;
      if (!Array.isArray(newest) || typeof newest[0] !== 'string') return { cursor: '0-0' };
      try {
        return { cursor: newest[0], stream: parseFeedEntry(newest).event.stream };
      } catch {
        return { cursor: newest[0] };
      }
    },

    async wentBack(space, cursor, stream) {
      try {
        const [held] = await redis.xrevrange(redisKeys.feed(space), cursor, '-', 'COUNT', 1);
        const newest = Array.isArray(held) && typeof held[0] === 'string' ? held[0] : '0';
        if (newest !== '0' && compareCursors(newest, cursor) === 0) return undefined;
        if (stream !== undefined && (await redis.hexists(redisKeys.deleted(space), stream)) === 1)
          return undefined;
        return newest;
      } catch (error) {
        throw unavailable(error);
      }
    },

    async ping() {
      const masters = await mastersHealth(redis);
      return masters.length > 0 && masters.every((master) => master.redis === 'up');
    },

    masters: () => mastersHealth(redis),

    snapshots: (space, page) => snapshots.page(space, page),

    idle: () => snapshots.idle(),
  };
}
