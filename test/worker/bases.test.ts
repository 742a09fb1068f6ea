import { describe, expect, it } from 'vitest';
import type { CommitNotice } from '../../core/event-store.ts';
import { models } from '../../core/models/index.ts';
import { foldStream } from '../../core/stream-snapshot.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { engineFixture, listCounters, testSpace } from '../helpers/engine.ts';
import { events, streamOf } from '../server/fixtures.ts';

const open = engineFixture();

/** A device that joined `stream` from the server's snapshot at version 3, then received v4. */
async function based() {
  const engine = await open();
  const storage = new IndexedDBSyncStorage(engine);
  const stream = streamOf();
  const server = events(stream, 0, ['Created', 'Incremented', 'Incremented', 'Incremented']);
  const snapshot = foldStream(models, stream, undefined, server.slice(0, 3));
  expect(await engine.installBases('space-bases-00001', [snapshot])).toEqual([]);
  await engine.receive(stream, server.slice(3));
  return { engine, storage, stream, server, snapshot };
}

describe('a stream joined from a snapshot, on the device', () => {
  it('loads from its base, takes commands, and gives back only what it holds, naming the base', async () => {
    const { engine, storage, stream, server, snapshot } = await based();
    expect((await listCounters(engine)).find((row) => row.id === stream)?.value).toBe(3);
    expect(await engine.execute(stream, { type: 'increment' })).toMatchObject({
      type: 'accepted',
      version: 5,
    });
    expect(await storage.heldFrom(stream)).toBe(3);
    expect(await storage.confirmedOf(stream)).toBe(4);
    // What a device gives back to a server that lost events: from its base, never below.
    const [push] = await storage.readRestore(stream, 3, 4);
    expect(push).toEqual({
      stream,
      expectedVersion: 3,
      expectedId: snapshot.id,
      events: [expect.objectContaining({ id: server[3]!.id, version: 4 })],
    });
    // Syncing with another space than the one it came from: it waits (another space cannot
    // take it).
    await storage.writeSettings({ ...testSpace, space: 'space-other-00001' });
    expect((await storage.readPush()).streams).toEqual([]);
    await storage.writeSettings({ ...testSpace, space: 'space-bases-00001' });
    // In its space, the pending increment is pushed after the confirmed head, as any.
    expect(
      (await storage.readPush()).streams.map((s) => [s.expectedVersion, s.expectedId]),
    ).toEqual([[4, server[3]!.id]]);
  });

  it('takes its early history only when it folds to exactly the base', async () => {
    const { engine, stream, server } = await based();
    const forged = server
      .slice(0, 3)
      .map((event, i) => (i === 1 ? { ...event, type: 'Decremented', data: {} } : event));
    await expect(engine.fillBase(stream, forged)).rejects.toThrow(/does not add up/);
    expect((await engine.bases()).map((base) => base.stream)).toEqual([stream]);
    const told: CommitNotice[] = [];
    engine.onCommit((notice) => told.push(notice));
    expect(await engine.fillBase(stream, server.slice(0, 3))).toBe(true);
    expect(await engine.bases()).toEqual([]);
    // Told as the store's new position only: nothing shown changed, nothing new to push.
    expect(told).toEqual([
      { events: [], rows: [], rebased: [], position: await engine.store.position() },
    ]);
    expect((await engine.history(stream)).map((line) => line.value)).toEqual([0, 1, 2, 3]);
  });
});
