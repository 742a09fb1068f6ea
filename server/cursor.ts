import { compareCursors, cursorParts as partsOf } from '../core/feed-cursor.ts';
import { cursorSchema } from '../core/protocol.ts';

export { compareCursors };

/**
 * Feed cursors are Redis Stream ids, `ms-seq`, each part an unsigned 64-bit integer (or `0`, the
 * beginning). The schema only bounds their length, so the numeric range is checked here: Redis
 * answers an error for an id beyond 2^64 - 1, and bad input must never reach Redis.
 */
const maxPart = 2n ** 64n - 1n;

/** The last position a feed can have: nothing can come after it. */
export const lastCursor = `${maxPart}-${maxPart}`;

export function isCursor(value: string): boolean {
  if (!cursorSchema.safeParse(value).success) return false;
  const [ms, seq] = partsOf(value);
  return ms <= maxPart && seq <= maxPart;
}
