import { afterEach, describe, expect, it } from 'vitest';
import { backupFormat, historyCsv, readBackup } from '../../core/backup.ts';
import { boardStream } from '../../core/models/board/order.ts';
import { models } from '../../core/models/index.ts';
import { exportBackup, exportHistory, importBackup, previewImport } from '../../worker/backup.ts';
import type { Engine } from '../../worker/engine.ts';
import {
  counterId,
  dumpDatabase,
  listCounters,
  openEngine,
  storeSpace,
} from '../helpers/engine.ts';

const engines: Engine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.stop();
});
async function profile(device = 'device-test-1') {
  const engine = await openEngine({ device });
  engines.push(engine);
  return engine;
}

/** A profile with Water at 3 (one +2 batch), Pages at 1 and a move on the board. */
async function counted(): Promise<Engine> {
  const engine = await profile('device-backup-a');
  await engine.execute(counterId(1), { type: 'create', name: 'Water' });
  await engine.execute(counterId(1), { type: 'increment' });
  await engine.execute(counterId(1), [{ type: 'increment' }, { type: 'increment' }]);
  await engine.execute(counterId(2), [{ type: 'create', name: 'Pages' }, { type: 'increment' }]);
  await engine.execute(boardStream, [
    { type: 'place', counters: [counterId(1), counterId(2)] },
    { type: 'move', counter: counterId(2), after: null },
  ]);
  return engine;
}

const plainEvents = async (engine: Engine) =>
  (await engine.readAfter(0)).map(({ position: _, ...event }) => event);

describe('backup: export, then import into a fresh profile', () => {
  it('brings every event with its id, pending for sync, and the same counters', async () => {
    const from = await counted();
    const text = await exportBackup(from);
    const file = JSON.parse(text) as { format: string; version: number; events: unknown[] };
    expect(file).toMatchObject({ format: backupFormat, version: 1, device: 'device-backup-a' });
    expect(file.events).toEqual(await plainEvents(from));

    const to = await profile();
    expect(await previewImport(to, text)).toEqual({
      streams: [
        { stream: counterId(1), name: 'Water', events: 4, fresh: true },
        { stream: counterId(2), name: 'Pages', events: 2, fresh: true },
        { stream: boardStream, name: 'the order of your counters', events: 2, fresh: true },
      ],
      events: 8,
      known: 0,
      skipped: [],
    });
    expect(await importBackup(to, text)).toEqual({ events: 8, streams: 3 });
    expect(await plainEvents(to)).toEqual(await plainEvents(from));
    expect((await listCounters(to)).map(({ name, value }) => [name, value])).toEqual([
      ['Water', 3],
      ['Pages', 1],
    ]);
    // Pending like local commits: no outbox kept while no space is stored; once one is (sync
    // starts), one outbox entry per command, with the command that decides it.
    expect(await to.db.count('outbox')).toBe(0);
    await storeSpace(to);
    const outbox = await to.db.getAll('outbox');
    expect(outbox.map(({ commands }) => commands)).toEqual([
      [{ type: 'create', name: 'Water' }],
      [{ type: 'increment' }],
      [{ type: 'increment' }, { type: 'increment' }],
      [{ type: 'create', name: 'Pages' }, { type: 'increment' }],
      [
        { type: 'place', counters: [counterId(1), counterId(2)] },
        { type: 'move', counter: counterId(2), after: null },
      ],
    ]);
    // The imported counters take commands at once (their actors know them).
    expect(await to.execute(counterId(1), { type: 'increment' })).toMatchObject({
      type: 'accepted',
      version: 5,
    });
  });

  it('importing the same backup twice adds nothing', async () => {
    const from = await counted();
    const text = await exportBackup(from);
    const to = await profile();
    await importBackup(to, text);
    const before = await dumpDatabase(to.db);
    expect(await previewImport(to, text)).toMatchObject({ streams: [], events: 0, known: 8 });
    expect(await importBackup(to, text)).toEqual({ events: 0, streams: 0 });
    expect(await dumpDatabase(to.db)).toBe(before);
  });

  it('into a profile that counted on since: adds only what is new', async () => {
    const from = await counted();
    const old = await exportBackup(from);
    await from.execute(counterId(1), { type: 'increment' });
    const to = await profile();
    await importBackup(to, old);
    expect(await previewImport(to, await exportBackup(from))).toMatchObject({
      streams: [{ name: 'Water', events: 1, fresh: false }],
      known: 8,
    });
    await importBackup(to, await exportBackup(from));
    expect(await plainEvents(to)).toEqual(expect.arrayContaining(await plainEvents(from)));
  });

  it('into a profile with a counter of the same name: renames one as sync would', async () => {
    const from = await counted();
    const to = await profile();
    await to.execute(counterId(9), { type: 'create', name: 'water' });
    const text = await exportBackup(from);
    await importBackup(to, text);
    expect((await listCounters(to)).map(({ name }) => name).sort()).toEqual([
      'Pages',
      'Water',
      'water (2)',
    ]);
  });

  it('a stream whose history here differs is skipped and named, the rest imported', async () => {
    const from = await counted();
    const to = await profile();
    await to.execute(boardStream, { type: 'place', counters: [counterId(7)] });
    const preview = await previewImport(to, await exportBackup(from));
    expect(preview.skipped).toEqual([
      {
        name: 'the order of your counters',
        reason:
          'its history here differs from the backup’s from change 1 on, so it stays as it is here.',
      },
    ]);
    expect(await importBackup(to, await exportBackup(from))).toEqual({ events: 6, streams: 2 });
  });
});

describe('a damaged or foreign file', () => {
  const damaged = async (): Promise<[string, string | RegExp][]> => {
    const text = await exportBackup(await counted());
    const file = JSON.parse(text) as { events: Record<string, unknown>[]; version: number };
    const edit = (change: (copy: typeof file) => void) => {
      const copy = structuredClone(file);
      change(copy);
      return JSON.stringify(copy);
    };
    return [
      [
        '{"counters": [',
        'This backup cannot be imported: it is not a Tally backup (the file is not JSON).',
      ],
      ['{"name": "some other app"}', /it has no "format": "tally-backup"/],
      [
        edit((f) => (f.version = 2)),
        /made by a newer Tally \(backup version 2; this one reads version 1\)/,
      ],
      [
        edit((f) => (f.events[1]!['data'] = { amount: -5 })),
        /event 2 is damaged: .*Incremented.*counter-c0000001, version 2/,
      ],
      [
        edit((f) => f.events.splice(1, 1)),
        /the history of counter-c0000001 is not whole \(version 2 is missing\)/,
      ],
      [
        edit((f) => (f.events[1]!['type'] = 'Exploded')),
        /event 2 is damaged: Unknown event type “Exploded”/,
      ],
      [edit((f) => (f.events[2]!['id'] = f.events[1]!['id'])), /appears twice/],
      [edit((f) => (f.events[0]!['stream'] = 'widget-1')), /unknown kind/],
      [edit((f) => f.events.splice(0, 1)), /is not whole/],
      [
        edit(
          (f) => (
            (f.events[1]!['type'] = 'Deleted'),
            (f.events[1]!['data'] = {}),
            ((f.events[1]!['meta'] as { schema: number }).schema = 1)
          ),
        ),
        /Only the server deletes a counter/,
      ],
      [
        edit(
          (f) => (
            (f.events[1]!['type'] = 'Created'),
            (f.events[1]!['data'] = { name: 'X' }),
            ((f.events[1]!['meta'] as { schema: number }).schema = 1)
          ),
        ),
        /Created only starts its history/,
      ],
      [
        edit((f) => ((f.events[0]!['meta'] as { time: number }).time = 8_640_000_000_000_001)),
        /event 1 is damaged: .*A time must be a date a calendar can show/,
      ],
      [
        // One change of 1,001 events: no push could ever carry it.
        edit((f) => {
          const [created, increment] = f.events as {
            meta: { command: string };
            id: string;
            version: number;
          }[];
          f.events = [
            created!,
            ...Array.from({ length: 1_001 }, (_, i) => ({
              ...structuredClone(increment!),
              id: `bulk-${String(i).padStart(6, '0')}`,
              version: i + 2,
              meta: { ...increment!.meta, command: 'bulk-command-1' },
            })),
          ] as unknown as typeof f.events;
        }),
        /one change in the history of counter-c0000001 has more than 1000 events/,
      ],
    ];
  };

  it('is refused with the reason, and nothing changes', async () => {
    const to = await profile();
    await to.execute(counterId(5), { type: 'create', name: 'Kept' });
    const before = await dumpDatabase(to.db);
    for (const [text, reason] of await damaged()) {
      await expect(previewImport(to, text), text.slice(0, 60)).rejects.toThrow(reason);
      await expect(importBackup(to, text)).rejects.toThrow(reason);
    }
    expect(await dumpDatabase(to.db)).toBe(before);
  });

  it('an event id this profile holds as another event refuses the whole file', async () => {
    const from = await counted();
    const to = await profile();
    await to.execute(counterId(5), { type: 'create', name: 'Kept' });
    const file = JSON.parse(await exportBackup(from)) as { events: { id: string }[] };
    file.events[3]!.id = (await to.readAfter(0))[0]!.id;
    const before = await dumpDatabase(to.db);
    await expect(importBackup(to, JSON.stringify(file))).rejects.toThrow(
      /is already here as another event \(counter-c0000005, change 1\)/,
    );
    expect(await dumpDatabase(to.db)).toBe(before);
  });
});

describe('the history as CSV', () => {
  it('has one line per event with the name and value after it, safe for spreadsheets', async () => {
    const from = await counted();
    await from.execute(counterId(2), { type: 'rename', name: '=SUM(A1)' });
    const csv = await exportHistory(from);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('time,counter,event,detail,value,counter id,device');
    expect(lines.slice(1).map((line) => line.split(',').slice(1, 5))).toEqual([
      ['Water', 'Created', 'name Water', '0'],
      ['Water', 'Incremented', 'amount 1', '1'],
      ['Water', 'Incremented', 'amount 1', '2'],
      ['Water', 'Incremented', 'amount 1', '3'],
      ['Pages', 'Created', 'name Pages', '0'],
      ['Pages', 'Incremented', 'amount 1', '1'],
      ["'=SUM(A1)", 'Renamed', 'name =SUM(A1)', '1'],
    ]);
    expect(historyCsv([], models)).toBe('time,counter,event,detail,value,counter id,device\r\n');
    expect(readBackup(await exportBackup(from), models).size).toBe(3);
  });
});
