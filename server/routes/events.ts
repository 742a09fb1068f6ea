import { Hono } from 'hono';
import { TallyError } from '../../core/errors.ts';
import { limits, type PullResponse } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceGate } from '../auth.ts';
import { compareCursors, isCursor } from '../cursor.ts';
import type { SyncStore } from '../redis-store.ts';

export function parseCursor(value: string | undefined): string {
  if (value === undefined) return '0';
  if (!isCursor(value)) throw new TallyError('invalid', 'That is not a valid feed cursor.');
  return value;
}

export const parseLimit = (value: string | undefined): number => {
  if (value === undefined) return limits.maxPullLimit;
  const limit = /^[1-9]\d{0,6}$/.test(value) ? Number(value) : 0;
  if (limit < 1 || limit > limits.maxPullLimit)
    throw new TallyError(
      'invalid',
      `limit must be a whole number from 1 to ${limits.maxPullLimit}.`,
    );
  return limit;
};

/**
 * Where the feed went back to when it no longer holds the entry `after` names: Redis lost it in a
 * failover (its head may be past it again, new entries added since), or it was swept out with a
 * stream deleted forever. Undefined from the beginning, or while the entry is there. The device
 * then gives back what it saw after that point and reads on from it (docs/architecture.md,
 * "Failover"); an older device finds the cursor before its own and does the same.
 */
export function wentBack(store: SyncStore, space: string, after: string) {
  // `0-0` is no entry (Redis never adds one there): the beginning, as `0` is.
  if (compareCursors(after, '0-0') <= 0) return Promise.resolve(undefined);
  return store.wentBack(space, after);
}

/** `GET /api/spaces/:space/events?after=<cursor>&limit=<n>` → 200 `PullResponse`. */
export function eventsRoute(options: { gate: SpaceGate; store: () => SyncStore }) {
  return new Hono<AppEnv>().get(
    '/api/spaces/:space/events',
    requireSpaceToken(options.gate),
    async (c) => {
      const after = parseCursor(c.req.query('after'));
      const limit = parseLimit(c.req.query('limit'));
      const store = options.store();
      const [{ entries, more }, back] = await Promise.all([
        store.readFeed(c.get('space'), after, limit),
        wentBack(store, c.get('space'), after),
      ]);
      // Nothing is answered from a cursor the feed lost: the device reads on from where it went
      // back to, after giving back what it saw since (entries after it may come later: `more`).
      const body: PullResponse =
        back === undefined
          ? { entries, cursor: entries.at(-1)?.cursor ?? after, more }
          : { entries: [], cursor: back, more: entries.length > 0, wentBack: true };
      return c.json(body, 200);
    },
  );
}
