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
 * The feed's head when it is before `after`: the device saw entries this feed no longer holds
 * (Redis lost its last writes in a failover). Answered as the cursor, so the device asks from
 * there on and gives back what it saw after it (docs/architecture.md, "Failover"); an older
 * device simply reads from there again.
 */
async function behind(store: SyncStore, space: string, after: string) {
  if (after === '0') return undefined;
  const head = await store.feedHead(space);
  if (compareCursors(head, after) >= 0) return undefined;
  return head === '0-0' ? '0' : head;
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
      const { entries, more } = await store.readFeed(c.get('space'), after, limit);
      const body: PullResponse = {
        entries,
        cursor: entries.at(-1)?.cursor ?? (await behind(store, c.get('space'), after)) ?? after,
        more,
      };
      return c.json(body, 200);
    },
  );
}
