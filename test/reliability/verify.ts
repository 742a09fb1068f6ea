import type { Redis } from 'ioredis';
import { redisKeys } from '../../server/redis-store.ts';
import { parseFeedEntry, parseStoredEvent } from '../../server/stored-event.ts';
import type { SimDevice } from './device.ts';

export type Tally = {
  /** Events the devices were told were accepted. */
  readonly accepted: number;
  /** Of those, not in Redis (must be 0). */
  readonly lost: number;
  /** Events in Redis more than once, in a stream or in the feed (must be 0). */
  readonly doubled: number;
  /** Events in Redis that no device had accepted, or out of place (must be 0). */
  readonly stray: number;
};

/**
 * Reads back from Redis what the devices of one space were told was accepted: each stream must
 * be exactly its device's accepted events, versions 1..N with no gap, and the space's feed must
 * hold every one of them exactly once.
 */
export async function tallySpace(
  redis: Redis,
  space: string,
  devices: readonly SimDevice[],
): Promise<Tally> {
  let accepted = 0;
  let lost = 0;
  let doubled = 0;
  let stray = 0;
  const expected = new Set<string>();
  for (const device of devices) {
    accepted += device.accepted.length;
    const stored = (await redis.lrange(redisKeys.stream(space, device.stream), 0, -1)).map(
      parseStoredEvent,
    );
    const ids = new Set(stored.map((event) => event.id));
    doubled += stored.length - ids.size;
    stored.forEach((event, index) => {
      const mine = device.accepted[index];
      if (event.version !== index + 1 || event.id !== mine?.id) stray++;
    });
    for (const event of device.accepted) {
      expected.add(event.id);
      if (!ids.has(event.id)) lost++;
    }
  }
  const feed = (await redis.xrange(redisKeys.feed(space), '-', '+')).map(parseFeedEntry);
  const seen = new Map<string, number>();
  for (const { event } of feed) seen.set(event.id, (seen.get(event.id) ?? 0) + 1);
  for (const [id, times] of seen) {
    if (times > 1) doubled += times - 1;
    if (!expected.has(id)) stray++;
  }
  for (const id of expected) if (!seen.has(id)) lost++;
  return { accepted, lost, doubled, stray };
}

export const addTallies = (tallies: readonly Tally[]): Tally =>
  tallies.reduce(
    (sum, t) => ({
      accepted: sum.accepted + t.accepted,
      lost: sum.lost + t.lost,
      doubled: sum.doubled + t.doubled,
      stray: sum.stray + t.stray,
    }),
    { accepted: 0, lost: 0, doubled: 0, stray: 0 },
  );
