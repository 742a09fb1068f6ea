import { Hono } from 'hono';
import { TallyError } from '../../core/errors.ts';
import { limits, type PullResponse } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceGate } from '../auth.ts';
import { isCursor } from '../cursor.ts';
import type { SyncStore } from '../redis-store.ts';

export function parseCursor(value: string | undefined): string {
  if (value === undefined) return '0';
  if (!isCursor(value)) throw new TallyError('invalid', 'That is not a valid feed cursor.');
  return value;
}

const parseLimit = (value: string | undefined): number => {
  if (value === undefined) return limits.maxPullLimit;
  const limit = /^[1-9]\d{0,6}$/.test(value) ? Number(value) : 0;
  if (limit < 1 || limit > limits.maxPullLimit)
    throw new TallyError(
      'invalid',
      `limit must be a whole number from 1 to ${limits.maxPullLimit}.`,
    );
  return limit;
};

/** `GET /api/spaces/:space/events?after=<cursor>&limit=<n>` → 200 `PullResponse`. */
export function eventsRoute(options: { gate: SpaceGate; store: () => SyncStore }) {
  return new Hono<AppEnv>().get(
    '/api/spaces/:space/events',
    requireSpaceToken(options.gate),
    async (c) => {
      const after = parseCursor(c.req.query('after'));
      const limit = parseLimit(c.req.query('limit'));
      const { entries, more } = await options.store().readFeed(c.get('space'), after, limit);
      const body: PullResponse = { entries, cursor: entries.at(-1)?.cursor ?? after, more };
      return c.json(body, 200);
    },
  );
}
