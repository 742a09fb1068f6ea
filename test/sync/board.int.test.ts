import { afterEach, describe, expect, it } from 'vitest';
import { boardStream } from '../../core/models/board/decider.ts';
import { boardView, inBoardOrder } from '../../core/models/board/projections.ts';
import type { Engine } from '../../worker/engine.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { converged, openDevice, synced, type Device } from '../helpers/sync.ts';
import { waitFor } from '../server/fixtures.ts';

const fixture = syncServerFixture();

const devices: Device[] = [];

afterEach(async () => {
  for (const opened of devices.splice(0)) await opened.close();
});

/** The names in the order this device shows its counters, as the UI computes it. */
async function shownOrder(engine: Engine): Promise<string[]> {
  const rows = [...(await listCounters(engine))].sort(
    (a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id),
  );
  const board = (await engine.readView(boardView)).find((row) => row.id === boardStream);
  return inBoardOrder(rows, board?.order).map((row) => row.name);
}

/** What the UI sends for "Move … up/down": counters not on the board join it first. */
async function move(engine: Engine, name: string, direction: 'up' | 'down') {
  const rows = [...(await listCounters(engine))].sort(
    (a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id),
  );
  const board = (await engine.readView(boardView)).find((row) => row.id === boardStream);
  const order = inBoardOrder(rows, board?.order).map((row) => row.id);
  const id = rows.find((row) => row.name === name)!.id;
  const index = order.indexOf(id);
  const after = direction === 'up' ? (order[index - 2] ?? null) : order[index + 1]!;
  const unplaced = order.filter((other) => !board?.order.includes(other));
  return engine.execute(boardStream, [
    ...(unplaced.length > 0 ? [{ type: 'place', counters: unplaced }] : []),
    { type: 'move', counter: id, after },
  ]);
}

describe('the board syncs like counters', () => {
  it('two offline devices each move a counter: both moves take effect on both', async () => {
    const a = await openDevice();
    const b = await openDevice();
    devices.push(a, b);
    for (const [n, name] of ['A', 'B', 'C', 'D'].entries())
      await a.engine.execute(counterId(n), { type: 'create', name });
    const { space, pairingLink } = await a.sync.startSync(fixture.url);
    await b.sync.joinSpace(fixture.url, decodeURIComponent(pairingLink.split('#pair=')[1]!));
    await waitFor(async () => (await listCounters(b.engine)).length === 4, 'b to see 4 counters');
    await Promise.all([synced(a), synced(b)]);
    expect(await shownOrder(b.engine)).toEqual(['A', 'B', 'C', 'D']);

    a.sync.setOnline(false);
    b.sync.setOnline(false);
    expect(await move(a.engine, 'C', 'up')).toMatchObject({ type: 'accepted' });
    expect(await shownOrder(a.engine)).toEqual(['A', 'C', 'B', 'D']);
    for (let i = 0; i < 3; i++) await move(b.engine, 'D', 'up');
    expect(await shownOrder(b.engine)).toEqual(['D', 'A', 'B', 'C']);
    // A counter made offline on one device appears in the other's order too.
    await b.engine.execute(counterId(9), { type: 'create', name: 'E' });
    a.sync.setOnline(true);
    b.sync.setOnline(true);

    await converged([a, b], fixture.redis, space);
    expect(await shownOrder(a.engine)).toEqual(['D', 'A', 'C', 'B', 'E']);
    expect(await shownOrder(b.engine)).toEqual(['D', 'A', 'C', 'B', 'E']);
    expect([...a.sync.current().rejected, ...b.sync.current().rejected]).toEqual([]);
  });

  it('refuses commands for a stream of no known model, writing nothing', async () => {
    const a = await openDevice();
    devices.push(a);
    await expect(a.engine.execute('widget-main', { type: 'spin' })).rejects.toThrow(
      /unknown kind \(“widget”\)/,
    );
    await expect(
      a.engine.execute(boardStream, { type: 'move', counter: 'counter-x0000001', after: null }),
    ).resolves.toMatchObject({ type: 'rejected', reason: 'That counter is not in the order yet.' });
    expect(await a.engine.readAfter(0)).toEqual([]);
  });
});
