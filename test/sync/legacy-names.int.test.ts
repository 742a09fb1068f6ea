import { expect, it } from 'vitest';
import { validatePush } from '../../server/push-validation.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import { deviceFixture, serverStreams, synced } from '../helpers/sync.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { events } from '../server/fixtures.ts';

const sync = syncServerFixture();
const device = deviceFixture();

// Names an older build stored as typed: decomposed accents, a zero-width space, nothing visible.
const oldNames = [
  ['Cafe\u0301\u200B', 'Café'],
  ['\u200B\u200D', 'Unnamed counter'],
] as const;

it('an older build’s event with a name today’s rule refuses is pushed in today’s form, and the rest syncs', async () => {
  const a = await device();
  const streams = oldNames.map((_, i) => counterId(`legacy-${i}`));
  // Stored as the older build wrote it (an import does the same: commits decided elsewhere).
  await a.engine.store.appendAtomically(
    oldNames.map(([raw], i) => {
      const [created] = events(streams[i]!, 0, ['Created']);
      return {
        stream: streams[i]!,
        expectedVersion: 0,
        events: [{ ...created!, data: { name: raw } }],
        command: { id: created!.meta.command, commands: [{ type: 'create', name: raw }] },
      };
    }),
  );
  // Exactly as stored, the server refuses it: that was the push every other change waited on.
  const [created] = events(streams[0]!, 0, ['Created']);
  expect(() =>
    validatePush({
      streams: [
        {
          stream: streams[0],
          expectedVersion: 0,
          events: [{ ...created!, data: { name: oldNames[0][0] } }],
        },
      ],
    }),
  ).toThrow(/normalised/);

  const water = counterId('legacy-water');
  await a.engine.execute(water, { type: 'create', name: 'Water' });
  const { space } = await a.sync.startSync(sync.url);
  await synced(a);
  const held = await serverStreams(sync.redis, space);
  expect(
    oldNames.map((_, i) => (held[streams[i]!]?.[0] as { data: { name: string } }).data.name),
  ).toEqual(oldNames.map(([, shown]) => shown));
  expect(held[water]).toHaveLength(1);
  expect((await listCounters(a.engine)).map((row) => row.name).sort()).toEqual(
    ['Café', 'Unnamed counter', 'Water'].sort(),
  );
});
