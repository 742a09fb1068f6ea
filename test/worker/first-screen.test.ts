import { describe, expect, it } from 'vitest';
import { firstScreenRecord, firstScreenRows, type FirstScreen } from '../../core/first-screen.ts';
import { boardStream } from '../../core/models/board/order.ts';
import { models } from '../../core/models/index.ts';
import type { Engine } from '../../worker/engine.ts';
import { readFirstScreen, writeFirstScreen } from '../../worker/first-screen.ts';
import { viewRows } from '../../worker/idb-schema.ts';
import { counterId, engineFixture, listCounters } from '../helpers/engine.ts';
import { foldStream } from '../../core/stream-snapshot.ts';
import { events, streamOf } from '../server/fixtures.ts';

const open = engineFixture();
const screen = models.all.find((model) => model.firstScreen)!.firstScreen!;

/** The views as the host keeps them (every row, by view then key), read from the engine. */
async function views(engine: Engine) {
  const byView = new Map<string, Map<string, unknown>>();
  for (const projection of models.projections)
    byView.set(
      projection.view,
      new Map(
        (await engine.readView(projection)).map((row) => [String((row as { id: string }).id), row]),
      ),
    );
  return (view: string) => byView.get(view);
}

const head = (engine: Engine) => engine.store.position();

/** Keeps the first screen of `engine`'s views now, as the host does (however short the list). */
async function keep(engine: Engine): Promise<void> {
  const record = firstScreenRecord(screen, await views(engine), await head(engine), 0);
  await writeFirstScreen(engine.db, record!);
}

/** The next start: the engine reopened, and the first screen it showed (if any). */
async function nextStart(engine: Engine): Promise<{ shown?: FirstScreen; again: Engine }> {
  engine.close();
  let shown: FirstScreen | undefined;
  const again = await open({ dbName: engine.db.name, onFirstScreen: (s) => (shown = s) });
  // Read at open in a transaction of its own, created before the views' read: answered once a
  // read made after the engine opened is.
  await readFirstScreen(again.db, models);
  return { ...(shown ? { shown } : {}), again };
}

describe('the first screen kept for the next start', () => {
  it('is kept for any list with a row, none for an empty one; a long one holds its first window', async () => {
    const engine = await open();
    expect(firstScreenRecord(screen, await views(engine), await head(engine))).toBeUndefined();
    await engine.execute(counterId(1), { type: 'create', name: 'Short' });
    const short = firstScreenRecord(screen, await views(engine), await head(engine));
    expect([short?.counted, short?.listed, short?.rows.map((row) => row.key)]).toEqual([
      1,
      1,
      [counterId(1)],
    ]);
    const long = new Map(
      Array.from({ length: firstScreenRows + 5 }, (_, i) => [counterId(i), { id: counterId(i) }]),
    );
    const kept = firstScreenRecord(screen, (view) => (view === 'counters' ? long : undefined), 7);
    expect([kept?.counted, kept?.rows.length, kept?.position]).toEqual([
      firstScreenRows + 5,
      firstScreenRows,
      7,
    ]);
  });

  it('is sorted again only when a row may have moved: a count or a rename keeps the order', () => {
    const row = { id: counterId(1), name: 'A', value: 1, version: 2, createdAt: 5, updatedAt: 6 };
    expect(screen.keepsOrder?.(row, { ...row, value: 9, name: 'B', version: 4 })).toBe(true);
    expect(screen.keepsOrder?.(row, { ...row, archived: true })).toBe(false);
    expect(screen.keepsOrder?.(row, { ...row, createdAt: 4 })).toBe(false);
    // The order computed before is used as given; the values are the current ones.
    const long = new Map(
      Array.from({ length: firstScreenRows }, (_, i) => [
        counterId(i),
        { ...row, id: counterId(i), value: i },
      ]),
    );
    const known = [...long.keys()].reverse();
    const kept = firstScreenRecord(
      screen,
      (v) => (v === 'counters' ? long : undefined),
      3,
      1,
      () => known,
    );
    expect(kept?.rows[0]).toEqual({ key: known[0], value: long.get(known[0]!) });
  });

  it('is the list’s first rows in its order (the board’s, then by creation), without archived ones', async () => {
    const engine = await open();
    for (let i = 1; i <= 5; i++)
      await engine.execute(counterId(i), { type: 'create', name: `C${i}` });
    await engine.execute(counterId(2), { type: 'archive' });
    await engine.execute(counterId(4), { type: 'increment' });
    await engine.execute(boardStream, [
      { type: 'place', counters: [counterId(1), counterId(3), counterId(4), counterId(5)] },
      { type: 'move', counter: counterId(5), after: null },
    ]);
    await keep(engine);
    const { shown } = await nextStart(engine);
    expect(shown?.listed).toBe(4);
    expect(shown?.rows.map((row) => row.key)).toEqual([5, 1, 3, 4].map(counterId));
    expect(shown?.rows.find((row) => row.key === counterId(4))?.value).toMatchObject({
      name: 'C4',
      value: 1,
    });
  });

  it('holds at most the first window of a long list, and says how long the list is', async () => {
    const engine = await open();
    const n = firstScreenRows + 20;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        engine.execute(counterId(i), { type: 'create', name: `N${i}` }),
      ),
    );
    await keep(engine);
    const { shown, again } = await nextStart(engine);
    expect(shown?.listed).toBe(n);
    expect(shown?.rows).toHaveLength(firstScreenRows);
    // The whole list follows: the first screen's rows are its first ones.
    const list = await listCounters(again);
    expect(list).toHaveLength(n);
    expect(shown?.rows.map((row) => row.key)).toEqual(
      list.slice(0, firstScreenRows).map((row) => row.id),
    );
  });

  it('is not shown once an event came after it, a counter was deleted forever, or it is damaged', async () => {
    let engine = await open();
    for (let i = 1; i <= 3; i++)
      await engine.execute(counterId(i), { type: 'create', name: `D${i}` });
    await keep(engine);
    await engine.execute(counterId(1), { type: 'increment' });
    let next = await nextStart(engine);
    expect(next.shown).toBeUndefined();

    // Kept again, it is shown; deleting forever then takes a row without moving the head.
    engine = next.again;
    await engine.execute(counterId(3), { type: 'archive' });
    await keep(engine);
    next = await nextStart(engine);
    expect(next.shown?.rows.map((row) => row.key)).toEqual([1, 2].map(counterId));
    engine = next.again;
    const at = await head(engine);
    await engine.forgetDeleted(counterId(3));
    expect(await head(engine)).toBe(at);
    // Its transaction dropped the record (the row count would tell too).
    expect(await engine.db.getKey('meta', 'firstScreen')).toBeUndefined();
    next = await nextStart(engine);
    expect(next.shown).toBeUndefined();

    // Joining a counter from the server's snapshot writes its row without moving the head: the
    // record goes in the same transaction.
    engine = next.again;
    await keep(engine);
    const joined = streamOf();
    const server = events(joined, 0, ['Created', 'Incremented']);
    expect(
      await engine.installBases('space-first-00001', [
        foldStream(models, joined, undefined, server),
      ]),
    ).toEqual([]);
    expect(await head(engine)).toBe(at);
    expect(await engine.db.getKey('meta', 'firstScreen')).toBeUndefined();
    next = await nextStart(engine);
    expect(next.shown).toBeUndefined();

    // Damaged: not shown (a cache), and nothing else is refused.
    engine = next.again;
    await keep(engine);
    await engine.db.put('meta', {
      key: 'firstScreen',
      view: 'counters',
      position: await head(engine),
      counted: await engine.db.count('views', viewRows('counters')),
      listed: 2,
      rows: [{ key: counterId(1), value: { id: counterId(1), name: 42 } }],
    } as never);
    next = await nextStart(engine);
    expect(next.shown).toBeUndefined();
    expect((await listCounters(next.again)).map((row) => row.name).sort()).toEqual(
      ['Counter 0', 'D1', 'D2'].sort(),
    );
  });
});
