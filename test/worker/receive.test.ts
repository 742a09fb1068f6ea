import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { CommitNotice } from '../../core/event-store.ts';
import type { CounterEvent } from '../../core/models/counter/decider.ts';
import type { Engine } from '../../worker/engine.ts';
import { counterId, dumpDatabase, listCounters, engineFixture } from '../helpers/engine.ts';
import { allEventsByStream } from '../../worker/event-records.ts';

const open = engineFixture({ syncing: true });

const strip = ({ position: _, ...event }: EventEnvelope & { position?: number }) =>
  event as EventEnvelope<CounterEvent>;

describe('receiving the server’s events', () => {
  it('rebases every pending command, however many more there are than events received', async () => {
    const engine = await open();
    const id = counterId(1);
    const created = await engine.execute(id, { type: 'create', name: 'Long' });
    if (created.type !== 'accepted') throw new Error('create was rejected');
    await engine.receive(id, created.events.map(strip));
    const pending = 100;
    let first: EventEnvelope<CounterEvent> | undefined;
    for (let i = 0; i < pending; i++) {
      const result = await engine.execute(id, { type: 'increment' });
      if (result.type !== 'accepted') throw new Error('increment was rejected');
      first ??= strip(result.events[0]!);
    }
    // Another device's increment took version 2 first.
    const theirs: EventEnvelope<CounterEvent> = {
      ...first!,
      id: 'evt-theirs-000001',
      meta: { ...first!.meta, device: 'device-other-1', command: 'cmd-theirs-00001' },
    };
    const notices: CommitNotice[] = [];
    engine.onCommit((notice) => notices.push(notice));
    const outcome = await engine.receive(id, [theirs]);
    expect(outcome).toMatchObject({ type: 'applied', confirmed: 2, version: 2 + pending });
    // The pending events are rewritten at new positions and none is told as new: the notice
    // says where the store's position is now (the first screen is kept at it: engine-host.ts).
    expect(notices).toMatchObject([{ events: [], rebased: [id] }]);
    expect(notices[0]!.position).toBe(await engine.store.position());
    expect(await engine.db.count('outbox')).toBe(pending);
    expect((await listCounters(engine)).map((row) => row.value)).toEqual([1 + pending]);
  });
});

/** Another device's events for `stream`, versions from `after + 1`. */
let made = 0;
const theirs = (stream: string, after: number, events: readonly CounterEvent[]) =>
  events.map(
    (event, i) =>
      ({
        ...event,
        id: `evt-other-${String(++made).padStart(8, '0')}`,
        stream,
        version: after + i + 1,
        meta: { time: 1, device: 'device-other-1', command: `cmd-other-${made}`, schema: 1 },
      }) as EventEnvelope<CounterEvent>,
  );
const up = (amount = 1): CounterEvent => ({ type: 'Incremented', data: { amount } });

/** A receive that reads first: a writer beside the appends (doing nothing) started before it. */
async function readFirst(
  engine: Engine,
  stream: string,
  events: readonly EventEnvelope<CounterEvent>[],
) {
  await engine.store.beside(() => Promise.resolve());
  return engine.receive(stream, events);
}

describe('receiving from memory', () => {
  it('the next receive of the stream the last one left known writes what a read one writes, without the read', async () => {
    // Two devices given the same events; one never receives from memory (`readFirst`).
    const [fast, read] = [await open(), await open()];
    const [a, b] = [counterId(1), counterId(2)];
    const steps: [string, (after: number) => EventEnvelope<CounterEvent>[]][] = [
      [a, (after) => theirs(a, after, [{ type: 'Created', data: { name: 'Water' } }])],
      [a, (after) => theirs(a, after, [up()])],
      [a, (after) => theirs(a, after, [up(2), up(3)])],
      [a, (after) => theirs(a, after, [{ type: 'Renamed', data: { name: 'Tea' } }])],
      [b, (after) => theirs(b, after, [{ type: 'Created', data: { name: 'Coffee' } }])],
      [a, (after) => theirs(a, after, [up()])],
      [a, (after) => theirs(a, after, [{ type: 'Archived', data: {} }])],
    ];
    const versions = new Map<string, number>();
    for (const [stream, make] of steps) {
      const events = make(versions.get(stream) ?? 0);
      versions.set(stream, events.at(-1)!.version);
      const [got, expected] = [
        await fast.receive(stream, events),
        await readFirst(read, stream, events),
      ];
      expect(got).toEqual(expected);
      expect(await dumpDatabase(fast.db)).toBe(await dumpDatabase(read.db));
    }
    // Read: the first of each stream, and a's after b's (b's receive wrote the position since).
    expect(fast.store.receivedFromMemory).toBe(4);
    expect(read.store.receivedFromMemory).toBe(0);
    expect(
      (await listCounters(fast)).map(({ name, value, archived }) => [name, value, archived]),
    ).toEqual([
      ['Tea', 7, true],
      ['Coffee', 0, undefined],
    ]);
  });

  it('reads first for the server’s events of a command listed as rejected, which they clear', async () => {
    const [fast, read] = [await open(), await open()];
    const a = counterId(1);
    // A command rejected after sync here (a recheck rewrote it while its push was in flight),
    // its events naming another device (one a backup or leaving a space made pending here).
    for (const engine of [fast, read])
      await engine.db.put('rejections', {
        commandId: 'cmd-rejected-1',
        stream: a,
        reason: 'It was rejected.',
        at: 1,
      });
    const created = theirs(a, 0, [{ type: 'Created', data: { name: 'Water' } }]);
    await fast.receive(a, created);
    await readFirst(read, a, created);
    // The server applied it after all: its events are that command's outcome.
    const outcome = theirs(a, 1, [up()]).map((event) => ({
      ...event,
      meta: { ...event.meta, command: 'cmd-rejected-1' },
    }));
    await fast.receive(a, outcome);
    await readFirst(read, a, outcome);
    expect(fast.store.receivedFromMemory).toBe(0);
    expect(await fast.db.count('rejections')).toBe(0);
    expect(await dumpDatabase(fast.db)).toBe(await dumpDatabase(read.db));
  });

  it('reads first after anything else wrote, and for events that do not simply follow', async () => {
    const engine = await open();
    const a = counterId(1);
    await engine.receive(a, theirs(a, 0, [{ type: 'Created', data: { name: 'Water' } }]));
    // This device counted: its own command is pending, so the next receive rebases, read.
    await engine.execute(a, { type: 'increment' });
    await engine.receive(a, theirs(a, 1, [up()]));
    expect(engine.store.receivedFromMemory).toBe(0);
    expect((await listCounters(engine)).map(({ value }) => value)).toEqual([2]);
    // A gap: never guessed over.
    const echo = await allEventsByStream(engine.db.transaction('events').store);
    const next = echo.length;
    expect(await engine.receive(a, theirs(a, next + 1, [up()]))).toMatchObject({ type: 'gap' });
    expect(engine.store.receivedFromMemory).toBe(0);
  });
});
