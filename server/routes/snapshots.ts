import { Hono } from 'hono';
import { TallyError } from '../../core/errors.ts';
import { snapshotPagePattern, type SnapshotPage } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceGate } from '../auth.ts';
import type { SyncStore } from '../redis-store.ts';

/** A page as the last answer named it (`next`), or the first (`0`); HSCAN's cursor is a u64. */
function parsePage(value: string | undefined): string {
  if (value === undefined) return '0';
  if (!snapshotPagePattern.test(value) || BigInt(value) > 0xffff_ffff_ffff_ffffn)
    throw new TallyError('invalid', 'page must be a page this route named (`next`), or 0.');
  return value;
}

/**
 * `GET /api/spaces/:space/snapshots?page=<page>` → 200 `SnapshotPage`: how a device joins a space
 * with a long history (docs/architecture.md, "Joining a space"). 409 for a space whose streams
 * are not all indexed: the device reads the feed from the beginning instead.
 */
export function snapshotsRoute(options: { gate: SpaceGate; store: () => SyncStore }) {
  return new Hono<AppEnv>().get(
    '/api/spaces/:space/snapshots',
    requireSpaceToken(options.gate),
    async (c) => {
      const page = parsePage(c.req.query('page'));
      const body: SnapshotPage = await options.store().snapshots(c.get('space'), page);
      return c.json(body, 200);
    },
  );
}
