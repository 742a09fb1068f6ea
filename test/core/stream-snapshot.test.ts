import { describe, expect, it } from 'vitest';
import { models } from '../../core/models/index.ts';
import { foldStream } from '../../core/stream-snapshot.ts';
import { checkSnapshot } from '../../worker/stream-bases.ts';
import { events, streamOf } from '../server/fixtures.ts';

describe('foldStream', () => {
  it('folds in steps to what one fold of every event makes', () => {
    const stream = streamOf();
    const all = events(stream, 0, ['Created', 'Incremented', 'Renamed', 'Incremented', 'Archived']);
    const whole = foldStream(models, stream, undefined, all);
    const first = foldStream(models, stream, undefined, all.slice(0, 2));
    const stepped = foldStream(models, stream, first, all.slice(2));
    expect(stepped).toEqual(whole);
    expect(whole).toMatchObject({ version: 5, id: all[4]!.id });
    expect(whole.rows).toEqual([
      {
        view: 'counters',
        key: stream,
        value: expect.objectContaining({ id: stream, value: 2, archived: true, version: 5 }),
      },
    ]);
  });

  it('refuses a gap, another stream, an empty fold and a base of another shape', () => {
    const stream = streamOf();
    const all = events(stream, 0, ['Created', 'Incremented', 'Incremented']);
    const base = foldStream(models, stream, undefined, all.slice(0, 1));
    expect(() => foldStream(models, stream, base, all.slice(2))).toThrow(/version 2/);
    expect(() => foldStream(models, streamOf(), base, all.slice(1))).toThrow(/another shape/);
    expect(() => foldStream(models, stream, undefined, [])).toThrow(/at least one event/);
    expect(() =>
      foldStream(models, stream, { ...base, modelVersion: base.modelVersion + 1 }, all.slice(1)),
    ).toThrow(/another shape/);
    expect(() => foldStream(models, 'nothing-x1', undefined, all)).toThrow(/unknown kind/);
  });
});

describe('a snapshot a device is offered (checkSnapshot: the server is an edge)', () => {
  it('is taken only in this build’s shape, with a state and rows that parse', () => {
    const stream = streamOf();
    const good = foldStream(
      models,
      stream,
      undefined,
      events(stream, 0, ['Created', 'Incremented']),
    );
    expect(checkSnapshot(models, good)).toMatchObject({ model: 'counter', state: good.state });
    const offered = [
      { ...good, modelVersion: good.modelVersion + 1 },
      { ...good, state: { exists: true, name: 'x', value: -3 } },
      { ...good, rows: [{ ...good.rows[0]!, value: { nonsense: true } }] },
      { ...good, rows: [{ ...good.rows[0]!, view: 'board' }] },
      { ...good, stream: 'nomodel-abc' },
      // Another counter's row, alone or beside its own: never written from this snapshot.
      { ...good, rows: [{ ...good.rows[0]!, key: 'counter-someone-else' }] },
      { ...good, rows: [good.rows[0]!, { ...good.rows[0]!, key: 'counter-someone-else' }] },
      {
        ...good,
        rows: [
          { ...good.rows[0]!, value: { ...(good.rows[0]!.value as object), id: 'counter-x' } },
        ],
      },
      { ...good, rows: [good.rows[0]!, good.rows[0]!] },
    ];
    for (const snapshot of offered) expect(checkSnapshot(models, snapshot)).toBeUndefined();
  });
});
