import { describe, expect, it } from 'vitest';
import { FeedWitness } from '../../worker/feed-witness.ts';

const ev = (stream: string, version: number) => ({ id: `${stream}@${version}`, stream, version });
const entry = (cursor: string, stream: string, version: number) => ({
  cursor,
  ...ev(stream, version),
});

describe('the feed witness (what the server may have lost in a failover)', () => {
  it('an acked event seen back in the feed is never given back', () => {
    const witness = new FeedWitness({ verifyMs: 100, keep: 100 });
    witness.ackedNow([ev('counter-a', 1), ev('counter-a', 2)], 0);
    witness.delivered([entry('1-0', 'counter-a', 1), entry('1-1', 'counter-a', 2)]);
    expect(witness.waiting()).toBe(false);
    expect(witness.overdue(1_000)).toEqual([]);
  });

  it('an echo that came before the ack counts as seen', () => {
    const witness = new FeedWitness({ verifyMs: 100, keep: 100 });
    witness.delivered([entry('1-0', 'counter-a', 1)]);
    witness.ackedNow([ev('counter-a', 1)], 0);
    expect(witness.waiting()).toBe(false);
  });

  it('acked events unseen after verifyMs are given back, one stretch per stream', () => {
    const witness = new FeedWitness({ verifyMs: 100, keep: 100 });
    witness.ackedNow([ev('counter-a', 3), ev('counter-a', 4), ev('counter-b', 7)], 0);
    witness.ackedNow([ev('counter-a', 5)], 60);
    expect(witness.overdue(99)).toEqual([]);
    expect(witness.overdue(100)).toEqual([
      { stream: 'counter-a', from: 2, to: 4 },
      { stream: 'counter-b', from: 6, to: 7 },
    ]);
    // Handed over once; the later one when its own time comes.
    expect(witness.overdue(150)).toEqual([]);
    expect(witness.overdue(160)).toEqual([{ stream: 'counter-a', from: 4, to: 5 }]);
    expect(witness.waiting()).toBe(false);
  });

  it('a feed gone back gives back what was seen after its head, and everything unseen', () => {
    const witness = new FeedWitness({ verifyMs: 100, keep: 100 });
    witness.delivered([
      entry('5-0', 'counter-a', 1),
      entry('6-0', 'counter-a', 2),
      entry('7-0', 'counter-b', 1),
      entry('8-0', 'counter-a', 3),
    ]);
    witness.ackedNow([ev('counter-c', 2)], 0);
    expect(witness.wentBack('6-0')).toEqual([
      { stream: 'counter-b', from: 0, to: 1 },
      { stream: 'counter-a', from: 2, to: 3 },
      { stream: 'counter-c', from: 1, to: 2 },
    ]);
    // The record starts over from the head.
    expect(witness.wentBack('0')).toEqual([]);
  });

  it('a stretch given back clears what it covers', () => {
    const witness = new FeedWitness({ verifyMs: 100, keep: 100 });
    witness.ackedNow([ev('counter-a', 1), ev('counter-a', 2), ev('counter-a', 3)], 0);
    witness.restored({ stream: 'counter-a', from: 0, to: 2 });
    expect(witness.overdue(100)).toEqual([{ stream: 'counter-a', from: 2, to: 3 }]);
  });

  it('keeps a bounded record', () => {
    const witness = new FeedWitness({ verifyMs: 100, keep: 10 });
    witness.delivered(
      Array.from({ length: 1_000 }, (_, i) => entry(`${i + 1}-0`, 'counter-a', i + 1)),
    );
    // Only the last ten are remembered: a feed gone back to 0 gives back those.
    expect(witness.wentBack('0')).toEqual([{ stream: 'counter-a', from: 990, to: 1_000 }]);
  });
});
