import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pageWentBack } from '../../core/feed-cursor.ts';

/** A feed position as its parts: `0` (the beginning) or `ms-seq`. */
const positionArb = fc.oneof(
  fc.constant<readonly [bigint, bigint]>([0n, 0n]),
  fc.tuple(fc.bigInt({ min: 1n, max: 2n ** 48n }), fc.bigInt({ min: 0n, max: 2n ** 20n })),
);
const cursorOf = ([ms, seq]: readonly [bigint, bigint]) =>
  ms === 0n && seq === 0n ? '0' : `${ms}-${seq}`;
/** The feed's order, told apart from `compareCursors`: milliseconds, then sequence. */
const before = (a: readonly [bigint, bigint], b: readonly [bigint, bigint]) =>
  a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

const entry = { cursor: '1-0', event: {} };

describe('pageWentBack (a catch-up page that lost the device’s cursor)', () => {
  it('an empty page went back exactly when its head is before the cursor asked after', () => {
    fc.assert(
      fc.property(positionArb, positionArb, (head, after) => {
        const page = { entries: [], cursor: cursorOf(head) };
        expect(pageWentBack(page, cursorOf(after))).toBe(before(head, after));
      }),
    );
  });

  it('nothing new (the cursor asked after, answered back) did not go back', () => {
    fc.assert(
      fc.property(positionArb, (at) => {
        expect(pageWentBack({ entries: [], cursor: cursorOf(at) }, cursorOf(at))).toBe(false);
      }),
    );
  });

  it('a page that brings entries went back only when the server says so', () => {
    fc.assert(
      fc.property(positionArb, positionArb, fc.boolean(), (head, after, said) => {
        const page = {
          entries: [entry],
          cursor: cursorOf(head),
          ...(said ? { wentBack: true as const } : {}),
        };
        expect(pageWentBack(page, cursorOf(after))).toBe(said);
      }),
    );
  });

  it('the server saying so is enough, wherever its head is', () => {
    fc.assert(
      fc.property(positionArb, positionArb, (head, after) => {
        const page = { entries: [], cursor: cursorOf(head), wentBack: true as const };
        expect(pageWentBack(page, cursorOf(after))).toBe(true);
      }),
    );
  });
});
