import { describe, expect, it } from 'vitest';
import type { EngineUpdate } from '../../core/engine-protocol.ts';
import { counterListOrder } from '../../core/models/board/order.ts';
import type { CounterRow } from '../../core/models/counter/projections.ts';
import { clientOver, type EngineClient, type HeldRows } from '../../app/engine-client.ts';
import { listOrder, movesTheList, type ListOrder } from '../../app/list-order.ts';

/**
 * The tab's held rows and the list's order made from them, fed view updates as the engine sends
 * them (the path from the engine is the e2e suite's). What is checked: the order is always the one
 * `counterListOrder` makes from the rows, and it is made again only when it can have changed.
 */
function tab(): {
  client: EngineClient;
  send(update: Omit<Extract<EngineUpdate, { type: 'view' }>, 'type' | 'view'>): void;
  rows(): HeldRows<CounterRow>;
} {
  let listener: ((update: EngineUpdate) => void) | undefined;
  const client = clientOver('shared-worker', {
    call: {} as never,
    subscribe: (_request, onUpdate) => {
      listener = onUpdate;
      return () => undefined;
    },
  });
  client.subscribe({ topic: 'view', view: 'counters' }, () => undefined);
  return {
    client,
    send: (update) => listener!({ type: 'view', view: 'counters', ...update }),
    rows: () => client.viewRows('counters') as HeldRows<CounterRow>,
  };
}

const row = (
  id: string,
  createdAt: number,
  value = 0,
  more: Partial<CounterRow> = {},
): CounterRow => ({
  id,
  name: id,
  value,
  version: value + 1,
  createdAt,
  updatedAt: createdAt,
  ...more,
});
const put = (...rows: CounterRow[]) => ({
  rows: rows.map((value) => ({ key: value.id, value })),
  removed: [],
  reset: false,
});

describe('the list order from the tab’s held rows', () => {
  it('keeps the same ids on a count, and makes them again when a row comes, goes or is archived', () => {
    const { send, rows } = tab();
    send({ ...put(row('b', 2), row('a', 1), row('c', 3)), reset: true });
    let kept: ListOrder = listOrder(undefined, rows(), undefined);
    expect(kept.ids).toEqual(['a', 'b', 'c']);

    // Counts, one update each and two together: the same array, and the rows read anew.
    for (const updates of [[put(row('b', 2, 1))], [put(row('a', 1, 1)), put(row('c', 3, 5))]]) {
      for (const update of updates) send(update);
      const next = listOrder(kept, rows(), undefined);
      expect(next.ids).toBe(kept.ids);
      kept = next;
    }
    expect(rows().get('c')?.value).toBe(5);

    const steps: [string, () => void, string[]][] = [
      ['a counter made', () => send(put(row('d', 0))), ['d', 'a', 'b', 'c']],
      ['one archived', () => send(put(row('b', 2, 1, { archived: true }))), ['d', 'a', 'c']],
      [
        'an archived one renamed',
        () => send(put(row('b', 2, 2, { archived: true, name: 'B (2)' }))),
        ['d', 'a', 'c'],
      ],
      [
        // A rename refused after sync: a rebase gives the row another name at the same version.
        'an archived one renamed by a rebase, its version the same',
        () => send(put(row('b', 2, 2, { archived: true, name: 'Green' }))),
        ['d', 'a', 'c'],
      ],
      ['one restored', () => send(put(row('b', 2, 3))), ['d', 'a', 'b', 'c']],
      ['one made earlier by a rebase', () => send(put(row('c', 0.5, 5))), ['d', 'c', 'a', 'b']],
      ['one deleted', () => send({ rows: [], removed: ['a'], reset: false }), ['d', 'c', 'b']],
      ['a reset', () => send({ ...put(row('x', 9)), reset: true }), ['x']],
    ];
    for (const [what, step, ids] of steps) {
      step();
      const next = listOrder(kept, rows(), undefined);
      expect(next.ids, what).not.toBe(kept.ids);
      expect(next.ids, what).toEqual(ids);
      expect(next.ids, what).toEqual(counterListOrder(rows().values(), undefined).map((r) => r.id));
      kept = next;
    }
  });

  it('tells which updates change more than their cards: what moves the list or shows a name', () => {
    const { send, rows } = tab();
    send({ ...put(row('a', 1), row('b', 2), row('c', 3, 0, { archived: true })), reset: true });
    expect(movesTheList(undefined, rows(), ['a']), 'no order made yet').toBe(true);
    let kept = listOrder(undefined, rows(), undefined);
    const cases: [string, () => void, string[], boolean][] = [
      ['a count', () => send(put(row('a', 1, 1))), ['a'], false],
      ['two counts', () => send(put(row('a', 1, 2), row('b', 2, 7))), ['a', 'b'], false],
      ['a step set', () => send(put(row('b', 2, 7, { step: 5 }))), ['b'], false],
      ['a rename', () => send(put(row('a', 1, 2, { name: 'Water' }))), ['a'], true],
      ['a counter made', () => send(put(row('d', 4))), ['d'], true],
      ['one archived', () => send(put(row('b', 2, 7, { archived: true }))), ['b'], true],
      ['an archived one changed', () => send(put(row('c', 3, 1, { archived: true }))), ['c'], true],
      ['one deleted', () => send({ rows: [], removed: ['d'], reset: false }), ['d'], true],
      [
        'made earlier by a rebase',
        () => send(put(row('a', 0.5, 2, { name: 'Water' }))),
        ['a'],
        true,
      ],
    ];
    for (const [what, step, keys, moves] of cases) {
      step();
      expect(movesTheList(kept, rows(), keys), what).toBe(moves);
      // The page renders (and makes the order) when it moves; a count leaves it as it is.
      if (moves) kept = listOrder(kept, rows(), undefined);
    }
    // Once rendered, a rename is known: a count after it changes its card only.
    send(put(row('a', 0.5, 3, { name: 'Water' })));
    expect(movesTheList(kept, rows(), ['a'])).toBe(false);
  });

  it('makes the order again when the board moves, or when too many updates came to know what changed', () => {
    const { send, rows } = tab();
    send({ ...put(row('a', 1), row('b', 2)), reset: true });
    const kept = listOrder(undefined, rows(), undefined);
    const board = ['b', 'a'];
    expect(listOrder(kept, rows(), board).ids).toEqual(['b', 'a']);

    for (let i = 1; i <= 100; i++) send(put(row('a', 1, i)));
    expect(rows().changedSince(kept.rows)).toBeUndefined();
    const next = listOrder(kept, rows(), undefined);
    expect(next.ids).not.toBe(kept.ids);
    expect(next.ids).toEqual(['a', 'b']);
  });

  it('tells what changed only between rows of the same subscription', () => {
    const one = tab();
    const other = tab();
    one.send({ ...put(row('a', 1)), reset: true });
    other.send({ ...put(row('a', 1)), reset: true });
    const before = one.rows();
    one.send(put(row('b', 2)));
    one.send({ rows: [], removed: ['a'], reset: false });
    expect([...(one.rows().changedSince(before) ?? [])].sort()).toEqual(['a', 'b']);
    expect(one.rows().changedSince(one.rows())).toEqual(new Set());
    expect(one.rows().changedSince(other.rows())).toBeUndefined();
    // An earlier object reads the rows as they are now (one map, changed in place).
    expect([...before.keys()]).toEqual(['b']);
    expect(one.rows()).not.toBe(before);
  });
});
