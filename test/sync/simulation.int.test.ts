import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  counter,
  type CounterCommand,
  type CounterEvent,
} from '../../core/models/counter/decider.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { converged, openDevice, synced, type Device } from '../helpers/sync.ts';
import { waitFor } from '../server/fixtures.ts';

// Each run makes a space: past 60 a minute (a long run) the address limit would refuse them.
const fixture = syncServerFixture({ server: { rateLimit: { createPerIpPerMinute: 100_000 } } });

const deviceCount = 3;
const counterCount = 3;

type Step =
  | {
      readonly type: 'command';
      readonly device: number;
      readonly counter: number;
      readonly commands: CounterCommand[];
    }
  | { readonly type: 'offline' | 'online'; readonly device: number };

const command = fc.oneof(
  { weight: 4, arbitrary: fc.constant<CounterCommand>({ type: 'increment' }) },
  { weight: 4, arbitrary: fc.constant<CounterCommand>({ type: 'decrement' }) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 0, max: 2 })
      .map((n): CounterCommand => ({ type: 'rename', name: `Name ${n}` })),
  },
);

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('command' as const),
      device: fc.nat(deviceCount - 1),
      counter: fc.nat(counterCount - 1),
      commands: fc.array(command, { minLength: 1, maxLength: 2 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('offline' as const),
      device: fc.nat(deviceCount - 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('online' as const), device: fc.nat(deviceCount - 1) }),
  },
);

const runs = Number(process.env['TALLY_SIMULATION_RUNS'] ?? 30);

describe('sync simulation', () => {
  it(
    'devices with random commands, offline periods and delays converge on the server’s streams',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(step, { minLength: 5, maxLength: 40 }),
          fc.array(fc.nat(15), { minLength: 1, maxLength: 20 }),
          async (steps, delays) => {
            let next = 0;
            // Random delivery delays on every request and answer.
            const delayed: typeof fetch = async (input, init) => {
              const ms = delays[next++ % delays.length]!;
              await new Promise((resolve) => setTimeout(resolve, ms));
              return fetch(input, init);
            };
            const devices: Device[] = [];
            try {
              for (let d = 0; d < deviceCount; d++)
                devices.push(await openDevice({ fetch: delayed }));
              const [first] = devices as [Device];
              const { space } = await first.sync.startSync(fixture.url);
              const ids = Array.from({ length: counterCount }, (_, n) =>
                counterId(`${space.slice(0, 6)}${n}`),
              );
              for (const [n, id] of ids.entries())
                await first.engine.execute(id, { type: 'create', name: `Counter ${n}` });
              // Invites are single-use: the first device makes one for each of the others.
              for (const device of devices.slice(1))
                await device.sync.joinSpace(
                  fixture.url,
                  decodeURIComponent(
                    (await first.sync.pairDevice()).pairingLink.split('#pair=')[1]!,
                  ),
                );
              await Promise.all(devices.map((device) => synced(device)));

              const work: Promise<unknown>[] = [];
              for (const s of steps) {
                const device = devices[s.device]!;
                if (s.type === 'command')
                  work.push(device.engine.execute(ids[s.counter]!, s.commands));
                else device.sync.setOnline(s.type === 'online');
                // Let requests and the feed make progress between steps.
                await new Promise((resolve) => setTimeout(resolve, delays[0]!));
              }
              await Promise.all(work);
              for (const device of devices) device.sync.setOnline(true);
              const streams = await converged(devices, fixture.redis, space, 40_000);

              for (const id of ids) {
                let state = counter.initialState();
                const events = streams[id] as {
                  version: number;
                  type: CounterEvent['type'];
                  data: never;
                }[];
                events.forEach((event, i) => {
                  expect(event.version).toBe(i + 1);
                  state = counter.evolve(state, event as CounterEvent);
                  if (state.exists) expect(state.value).toBeGreaterThanOrEqual(0);
                });
                for (const device of devices) {
                  const row = (await listCounters(device.engine)).find((r) => r.id === id);
                  expect(row?.value).toBe(state.exists ? state.value : undefined);
                }
              }
              // Names stay unique across counters, and every device agrees on them (a rename that
              // settles two equal names syncs like any command: wait for it).
              const nameLists = () =>
                Promise.all(
                  devices.map(async (device) =>
                    (await listCounters(device.engine)).map((r) => r.name.toLowerCase()).sort(),
                  ),
                );
              await waitFor(async () => {
                const lists = await nameLists();
                const [first] = lists;
                return (
                  new Set(first).size === first!.length &&
                  lists.every((list) => JSON.stringify(list) === JSON.stringify(first))
                );
              }, 'every device to agree on unique names');
              const names = await Promise.all(
                devices.map(async (device) =>
                  (await listCounters(device.engine))
                    .map((r) => [r.id, r.name.toLowerCase()])
                    .sort(),
                ),
              );
              for (const list of names) expect(list).toEqual(names[0]);
              expect(new Set(names[0]!.map(([, name]) => name)).size).toBe(names[0]!.length);
              // Every event id once per stream: nothing doubled.
              const all = Object.values(streams).flat() as { id: string }[];
              expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
            } finally {
              for (const device of devices) await device.close();
            }
          },
        ),
        // A failure names its seed and path (fast-check); TALLY_SIMULATION_RUNS runs it longer.
        { numRuns: runs, endOnFailure: true },
      );
      // Each run waits up to 40 s to converge: the bound is for a hang, not for speed.
    },
    Math.max(300_000, runs * 10_000),
  );
});
