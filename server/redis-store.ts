import type { Redis } from 'ioredis';
import { TallyError } from '../core/errors.ts';
import type { FeedEntry, PushResult } from '../core/protocol.ts';
import { appendScript } from './append-script.ts';
import { parseFeedEntry, parseStoredEvent, serializeEvent, type Envelope } from './stored-event.ts';

/**
 * Keys carry the space as a hash tag (`{…}`), so all keys of one space share a Cluster slot and a
 * script may touch them together.
 */
export const redisKeys = {
  stream: (space: string, stream: string) => `tally:{${space}}:s:${stream}`,
  feed: (space: string) => `tally:{${space}}:feed`,
};

export type StreamAppend = {
  readonly stream: string;
  readonly expectedVersion: number;
  /** The pushing device's event id at `expectedVersion`, when it sent one. */
  readonly expectedId?: string;
  readonly events: readonly Envelope[];
};

export type FeedPage = { readonly entries: FeedEntry[]; readonly more: boolean };

export interface SyncStore {
  /** One atomic step per stream; every stream of one call in one round trip. */
  append(space: string, streams: readonly StreamAppend[]): Promise<PushResult[]>;
  /** Feed entries strictly after `after` (`0`: from the beginning). */
  readFeed(space: string, after: string, limit: number): Promise<FeedPage>;
  /** The cursor of the newest feed entry, or `0-0` for an empty feed. */
  feedHead(space: string): Promise<string>;
  ping(): Promise<boolean>;
}

type AppendCommand = {
  tallyAppend(numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
};

export const unavailable = (cause: unknown): TallyError =>
  cause instanceof TallyError
    ? cause
    : new TallyError(
        'unavailable',
        'The sync server cannot reach its database right now. Try again shortly.',
        { cause },
      );

const appendResult = (stream: string, raw: unknown): PushResult => {
  if (Array.isArray(raw)) {
    const [status, version, ...events] = raw as unknown[];
    if (typeof version === 'number') {
      if (status === 1) return { stream, status: 'accepted', version };
      if (status === 2) return { stream, status: 'diverged', version };
      if (status === 0)
        return { stream, status: 'conflict', version, events: events.map(parseStoredEvent) };
    }
  }
  throw new TallyError('unavailable', 'The sync server got an unexpected answer from Redis.');
};

export function createRedisStore(
  redis: Redis,
  options: { readonly maxEventsPerSpace: number } = { maxEventsPerSpace: 1_000_000 },
): SyncStore {
  // EVALSHA with a fallback to EVAL, so the script survives a Redis restart (empty script cache).
  redis.defineCommand('tallyAppend', { lua: appendScript });
  const scripts = redis as Redis & AppendCommand;

  return {
    async append(space, streams) {
      const keys = [redisKeys.feed(space)];
      const args: (string | number)[] = [options.maxEventsPerSpace];
      for (const { stream, expectedVersion, expectedId, events } of streams) {
        keys.push(redisKeys.stream(space, stream));
        args.push(expectedVersion, expectedId ?? '', events.length);
        for (const event of events) args.push(event.id, serializeEvent(event));
      }
      let reply: unknown;
      try {
        reply = await scripts.tallyAppend(keys.length, ...keys, ...args);
      } catch (error) {
        throw unavailable(error);
      }
      const [first] = Array.isArray(reply) ? reply : [];
      if (Array.isArray(first) && first[0] === -1)
        throw new TallyError(
          'forbidden',
          `This space is full: it holds ${Number(first[1])} events, and at most ${options.maxEventsPerSpace} are kept per space.`,
        );
      if (!Array.isArray(reply) || reply.length !== streams.length)
        throw new TallyError('unavailable', 'The sync server got an unexpected answer from Redis.');
      return streams.map(({ stream }, index) => appendResult(stream, reply[index]));
    },

    async readFeed(space, after, limit) {
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

    async feedHead(space) {
      let raw: unknown[];
      try {
        raw = await redis.xrevrange(redisKeys.feed(space), '+', '-', 'COUNT', 1);
      } catch (error) {
        throw unavailable(error);
      }
      const [newest] = raw;
      return Array.isArray(newest) && typeof newest[0] === 'string' ? newest[0] : '0-0';
    },

    async ping() {
      try {
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
  };
}
