import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CounterCommand } from '../../core/models/counter/decider.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { converged, openDevice, synced, type Device } from '../helpers/sync.ts';
import { waitFor } from '../server/fixtures.ts';

// A space per run, many runs a minute from one address: the limits are tested elsewhere.
const fixture = syncServerFixture({ server: { rateLimit: false } });

/**
 * Nothing a person counted is lost by sync: devices create counters under colliding names
 * (letter case too) before and after pairing, rename, count, go offline, leave the space, start
 * other spaces, join again (from another space: "Leave and join"); all end in one space, and
 * every device holds the server's streams, names are unique, every increment a device
 * accepted is there exactly once, every decrement it accepted is there or told as rejected after
 * sync, and every device shows the server's increments minus its decrements. `TALLY_SIM_RUNS` runs it longer (see the README).
 */
const runs = Number(process.env.TALLY_SIM_RUNS ?? 200);

const deviceCount = 3;
const names = ['Water', 'water', 'WATER', 'Milk', 'milk'];

type Step =
  | { readonly type: 'create'; readonly device: number; readonly name: number }
  | {
      readonly type: 'count';
      readonly device: number;
      readonly counter: number;
      readonly up: boolean;
    }
  | {
      readonly type: 'rename';
      readonly device: number;
      readonly counter: number;
      readonly name: number;
    }
  | {
      readonly type: 'offline' | 'online' | 'leave' | 'join' | 'start';
      readonly device: number;
    };

const device = fc.nat(deviceCount - 1);
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('create' as const),
      device,
      name: fc.nat(names.length - 1),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('count' as const),
      device,
      counter: fc.nat(7),
      up: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('rename' as const),
      device,
      counter: fc.nat(7),
      name: fc.nat(names.length - 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constantFrom('offline' as const, 'online' as const), device }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constantFrom('leave' as const, 'join' as const, 'start' as const),
      device,
    }),
  },
);

const inviteOf = (link: string) => decodeURIComponent(link.split('#pair=')[1]!);

describe('sync keeps every count', () => {
  it(
    `colliding names before and after pairing, offline periods, leaving, starting other spaces and joining again: converge, nothing counted lost (${runs} runs)`,
    async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(step, { minLength: 4, maxLength: 24 }),
          fc.array(fc.nat(6), { minLength: 1, maxLength: 12 }),
          async (steps, delays) => {
            run++;
            let next = 0;
            // Random delivery delays on every request and answer.
            const delayed: typeof fetch = async (input, init) => {
              await new Promise((resolve) => setTimeout(resolve, delays[next++ % delays.length]));
              return fetch(input, init);
            };
            const devices: Device[] = [];
            try {
              for (let d = 0; d < deviceCount; d++)
                devices.push(await openDevice({ fetch: delayed }));
              const [first] = devices as [Device];
              // Devices that count before they are paired: the names they take may clash.
              const counters: string[] = [];
              const preIncrements: string[] = [];
              let created = 0;
              for (const [i, d] of devices.entries())
                if (steps.length % (i + 2) === 0) {
                  const id = counterId(`r${run}x${created++}`);
                  await d.engine.execute(id, { type: 'create', name: names[i % names.length]! });
                  counters.push(id);
                  const counted = await d.engine.execute(id, { type: 'increment' });
                  if (counted.type === 'accepted')
                    preIncrements.push(counted.events[0]!.meta.command);
                }
              // Each device's space (undefined: none). Leaving and starting another space, then
              // joining back, moves everything a device shows (issue 12).
              const spaceOf: (string | undefined)[] = devices.map(() => undefined);
              spaceOf[0] = (await first.sync.startSync(fixture.url)).space;
              // Invites are single-use: each join gets a fresh one from a device in that space.
              const invite = async (space: string) => {
                const inviter = devices.find((_, i) => spaceOf[i] === space)!;
                return inviteOf((await inviter.sync.pairDevice()).pairingLink);
              };
              const anySpace = () => spaceOf.find((space) => space !== undefined);
              for (const [i, other] of devices.entries())
                if (i > 0) {
                  await other.sync.joinSpace(fixture.url, await invite(spaceOf[0]));
                  spaceOf[i] = spaceOf[0];
                }
              const increments = new Set<string>(preIncrements);
              // Each device's accepted decrements: on the server afterwards, or told as
              // rejected after sync (a decrement at zero once the others' changes came in).
              const decrements = devices.map(() => new Set<string>());
              for (const s of steps) {
                const d = devices[s.device]!;
                switch (s.type) {
                  case 'create': {
                    const id = counterId(`r${run}x${created++}`);
                    const result = await d.engine.execute(id, {
                      type: 'create',
                      name: names[s.name]!,
                    });
                    if (result.type === 'accepted') counters.push(id);
                    break;
                  }
                  case 'count': {
                    const id = counters[s.counter % Math.max(1, counters.length)];
                    if (!id) break;
                    const command: CounterCommand = { type: s.up ? 'increment' : 'decrement' };
                    const result = await d.engine.execute(id, command).catch(() => undefined);
                    if (result?.type === 'accepted' && result.events[0])
                      (s.up ? increments : decrements[s.device]!).add(
                        result.events[0].meta.command,
                      );
                    break;
                  }
                  case 'rename': {
                    const id = counters[s.counter % Math.max(1, counters.length)];
                    if (id)
                      await d.engine
                        .execute(id, { type: 'rename', name: names[s.name]! })
                        .catch(() => undefined);
                    break;
                  }
                  case 'offline':
                  case 'online':
                    d.sync.setOnline(s.type === 'online');
                    break;
                  case 'leave':
                    if (spaceOf[s.device] !== undefined) {
                      d.sync.setOnline(true);
                      await d.sync.leaveSpace();
                      spaceOf[s.device] = undefined;
                    }
                    break;
                  case 'join': {
                    const space = anySpace();
                    if (spaceOf[s.device] === undefined && space !== undefined) {
                      d.sync.setOnline(true);
                      await d.sync.joinSpace(fixture.url, await invite(space));
                      spaceOf[s.device] = space;
                    }
                    break;
                  }
                  case 'start':
                    // Leaves the space it is in (if any), then starts another.
                    d.sync.setOnline(true);
                    if (spaceOf[s.device] !== undefined) await d.sync.leaveSpace();
                    spaceOf[s.device] = (await d.sync.startSync(fixture.url)).space;
                    break;
                }
              }
              // Everyone ends in one space (the first device's, or the space of any device,
              // or a new one): joining from another space is "Leave and join".
              let space = spaceOf[0] ?? anySpace();
              if (space === undefined)
                space = spaceOf[0] = (await first.sync.startSync(fixture.url)).space;
              for (const [i, d] of devices.entries()) {
                d.sync.setOnline(true);
                if (spaceOf[i] !== space) {
                  await d.sync.joinSpace(fixture.url, await invite(space));
                  spaceOf[i] = space;
                }
              }
              await Promise.all(devices.map((d) => synced(d, 30_000)));
              const streams = await converged(devices, fixture.redis, space, 40_000);

              // Every increment a device accepted is on the server exactly once, and every
              // device shows the total the server's events add up to.
              const events = Object.values(streams).flat() as {
                type: string;
                command: string;
                id: string;
              }[];
              const counted = new Set(
                events.filter((e) => e.type === 'Incremented').map((e) => e.command),
              );
              for (const command of increments) expect(counted.has(command)).toBe(true);
              const decremented = new Set(
                events.filter((e) => e.type === 'Decremented').map((e) => e.command),
              );
              for (const [i, d] of devices.entries()) {
                const dropped = [...decrements[i]!].filter((command) => !decremented.has(command));
                const told = d.sync
                  .current()
                  .rejected.reduce((sum, rejection) => sum + 1 + (rejection.later ?? 0), 0);
                expect(dropped.length).toBeLessThanOrEqual(told);
              }
              expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
              const total = async (d: Device) =>
                (await listCounters(d.engine)).reduce((sum, row) => sum + row.value, 0);
              const totals = await Promise.all(devices.map(total));
              // The total is the server's increments minus its decrements, on every device.
              for (const t of totals) expect(t).toBe(counted.size - decremented.size);
              // Every counter made is still there, on every device, under a unique name.
              await waitFor(
                async () => {
                  const lists = await Promise.all(
                    devices.map(async (d) =>
                      (await listCounters(d.engine))
                        .map((r) => `${r.id}:${r.name.toLowerCase()}`)
                        .sort(),
                    ),
                  );
                  const shown = lists[0]!.map((entry) => entry.split(':')[1]);
                  return (
                    new Set(shown).size === shown.length &&
                    lists.every((list) => JSON.stringify(list) === JSON.stringify(lists[0]))
                  );
                },
                'every device to agree on unique names',
                30_000,
              );
              const rows = await listCounters(first.engine);
              expect(rows.map((r) => r.id).sort()).toEqual([...counters].sort());
            } finally {
              for (const d of devices) await d.close();
            }
          },
        ),
        {
          numRuns: runs,
          endOnFailure: true,
          // A failure's replay: TALLY_SIM_SEED and TALLY_SIM_PATH from its report.
          ...(process.env.TALLY_SIM_SEED
            ? { seed: Number(process.env.TALLY_SIM_SEED), path: process.env.TALLY_SIM_PATH }
            : {}),
        },
      );
    },
    Math.max(300_000, runs * 3_000),
  );
});
