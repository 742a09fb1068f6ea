import { expect, it } from 'vitest';
import { runLoad } from '../../scripts/load.ts';

/**
 * The short version of `npm run load` (scripts/load.ts): 100 devices in spaces of three, each
 * holding a live feed and pushing every second, for five seconds, and a live-only watcher per
 * space (each paired as a device of its own). Asserts no error and nothing
 * lost; prints the latency, never asserts on time (a shared CI machine is no benchmark).
 */
it('serves 100 devices pushing and following live, and a watcher per space: no error, nothing lost', async () => {
  const report = await runLoad({
    devices: 100,
    seconds: 5,
    perSpace: 3,
    intervalMs: 1_000,
    watchers: 1,
  });
  const { errors, ...figures } = report;
  console.info(`load: ${JSON.stringify(figures)}`);
  expect(errors).toEqual([]);
  expect(report).toMatchObject({
    lost: 0,
    doubled: 0,
    stray: 0,
    liveMissed: 0,
    // 34 spaces: 100 devices and 34 watchers.
    connectionsHeld: 134,
  });
  expect(report.accepted).toBeGreaterThan(0);
}, 120_000);
