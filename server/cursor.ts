import { cursorSchema } from '../core/protocol.ts';

/**
 * Feed cursors are Redis Stream ids, `ms-seq`, each part an unsigned 64-bit integer (or `0`, the
 * beginning). The schema only bounds their length, so the numeric range is checked here: Redis
 * answers an error for an id beyond 2^64 - 1, and bad input must never reach Redis.
 */
const maxPart = 2n ** 64n - 1n;

export type CursorParts = readonly [ms: bigint, seq: bigint];

const partsOf = (cursor: string): CursorParts => {
  if (cursor === '0') return [0n, 0n];
  const [ms = '0', seq = '0'] = cursor.split('-');
  return [BigInt(ms), BigInt(seq)];
};

export function isCursor(value: string): boolean {
  if (!cursorSchema.safeParse(value).success) return false;
  const [ms, seq] = partsOf(value);
  return ms <= maxPart && seq <= maxPart;
}

/** Negative when `a` comes before `b` in the feed, positive after, 0 for the same position. */
export function compareCursors(a: string, b: string): number {
  const [aMs, aSeq] = partsOf(a);
  const [bMs, bSeq] = partsOf(b);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}
