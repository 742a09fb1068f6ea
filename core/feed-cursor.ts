/**
 * Feed cursors are Redis Stream ids, `ms-seq` (or `0`, the beginning), compared part by part as
 * unsigned integers: the order of entries in a space's feed. Shared by the server and devices.
 */
export type CursorParts = readonly [ms: bigint, seq: bigint];

export const cursorParts = (cursor: string): CursorParts => {
  if (cursor === '0') return [0n, 0n];
  const [ms = '0', seq = '0'] = cursor.split('-');
  return [BigInt(ms), BigInt(seq)];
};

/** Negative when `a` comes before `b` in the feed, positive after, 0 for the same position. */
export function compareCursors(a: string, b: string): number {
  const [aMs, aSeq] = cursorParts(a);
  const [bMs, bSeq] = cursorParts(b);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}

/**
 * Whether a catch-up page asked for after `after` says the feed no longer holds that cursor (Redis
 * lost its last writes, even if others wrote since): the server says so (`wentBack`), or an older
 * server, which cannot, answers nothing and a head before it.
 */
export const pageWentBack = (
  page: { readonly wentBack?: true; readonly entries: readonly unknown[]; readonly cursor: string },
  after: string,
): boolean =>
  page.wentBack === true || (page.entries.length === 0 && compareCursors(page.cursor, after) < 0);
