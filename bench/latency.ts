import type { Page } from 'playwright-core';
import { counterStream, idbCall, type Win } from './pages.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { percentile } from './stats.ts';

export const SAMPLES = 2_000;
export const BIG_EVENTS = 100_000;
export const small = counterStream('small', 0);
export const big = counterStream('big', 0);

/** `n` increments one after another from the app page, each timed from call to ack. */
export function timeSequential(page: Page, stream: string, n: number): Promise<number[]> {
  return page.evaluate(
    async ([stream, n]) => {
      const { tally } = globalThis as unknown as Win;
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const result = await tally.execute(stream, { type: 'increment' });
        times.push(performance.now() - t0);
        if (result.type !== 'accepted') throw new Error(`Rejected: ${result.reason}`);
      }
      return times;
    },
    [stream, n] as const,
  );
}

/** Appends `events` increments to `stream` in batches of 100 commands, `window` in flight. */
export function seed(page: Page, stream: string, events: number, window: number): Promise<number> {
  return page.evaluate(
    async ([stream, events, window]) => {
      const { tally } = globalThis as unknown as Win;
      const batches = Math.ceil(events / 100);
      const t0 = performance.now();
      let next = 0;
      const lane = async () => {
        while (next < batches) {
          next++;
          const result = await tally.execute(
            stream,
            Array.from({ length: 100 }, () => ({ type: 'increment' as const })),
          );
          if (result.type !== 'accepted') throw new Error(`Rejected: ${result.reason}`);
        }
      };
      await Promise.all(Array.from({ length: window }, lane));
      return performance.now() - t0;
    },
    [stream, events, window] as const,
  );
}

const create = (page: Page, stream: string, name: string, increments = 0) =>
  page.evaluate(
    async ([stream, name, increments]) => {
      const result = await (globalThis as unknown as Win).tally.execute(stream, [
        { type: 'create', name },
        ...Array.from({ length: increments }, () => ({ type: 'increment' as const })),
      ]);
      if (result.type !== 'accepted') throw new Error(`Rejected: ${result.reason}`);
    },
    [stream, name, increments] as const,
  );

/**
 * §1 command latency and §2 O(1), in one profile that keeps the 100k-event aggregate for the
 * fan-out and cold-start sections.
 */
export async function measureLatency(bench: Bench, app: Page, benchPage: Page): Promise<Row[]> {
  const { probe, log } = bench;
  await create(app, small, 'Small', 9);
  await create(app, big, 'Big');
  await create(app, counterStream('warm', 0), 'Warm-up');
  await timeSequential(app, counterStream('warm', 0), 300);

  log(`§1 ${SAMPLES} sequential commands (aggregate of 10 events)`);
  const before = await probe.registry();
  const smallTimes = await timeSequential(app, small, SAMPLES);
  const after = await probe.registry();
  const txPerCommand =
    before && after ? (after.transactions - before.transactions) / SAMPLES : Number.NaN;

  log('§1 baselines: bare IndexedDB transactions in a bare SharedWorker');
  await idbCall(benchPage, 'latency', 200);
  const bare = await idbCall<number[]>(benchPage, 'latency', SAMPLES);
  const roundTrip = await benchPage.evaluate(async (n) => {
    const idb = (globalThis as unknown as Win).bench.idb();
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await idb.call('putOne');
      times.push(performance.now() - t0);
    }
    return times;
  }, SAMPLES);
  // Mean, not a percentile: one round trip is below the page's 0.1 ms timer resolution.
  const echoMean = await benchPage.evaluate(async (n) => {
    const idb = (globalThis as unknown as Win).bench.idb();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await idb.call('echo');
    return (performance.now() - t0) / n;
  }, SAMPLES);

  log(`§2 seeding ${BIG_EVENTS.toLocaleString('en-US')} events (batches of 100 commands)`);
  const seedMs = await seed(app, big, BIG_EVENTS, 8);
  log(`§2 ${SAMPLES} sequential commands (aggregate of ${BIG_EVENTS} events)`);
  const bigTimes = await timeSequential(app, big, SAMPLES);

  const bareP50 = percentile(bare, 50);
  const s = '1 latency';
  return [
    {
      section: s,
      figure: `command p50 (tab → SharedWorker → IndexedDB → tab, n=${SAMPLES})`,
      value: percentile(smallTimes, 50),
      unit: 'ms',
      baseline: { label: 'bare IDB tx, 1 put, in a SharedWorker', value: bareP50 },
      note: `${txPerCommand.toFixed(2)} IDB transactions per command`,
    },
    {
      section: s,
      figure: 'command p99',
      value: percentile(smallTimes, 99),
      unit: 'ms',
      baseline: { label: 'bare IDB tx p99', value: percentile(bare, 99) },
    },
    {
      section: s,
      figure: 'bare round trip p50: tab → bare SharedWorker → 1 IDB tx → tab',
      value: percentile(roundTrip, 50),
      unit: 'ms',
      baseline: { label: 'bare IDB tx p50', value: bareP50 },
      note: `message round trip alone: mean ${echoMean.toFixed(3)} ms`,
    },
    {
      section: '2 O(1)',
      figure: `command p50 on a ${(BIG_EVENTS / 1000).toFixed(0)}k-event aggregate`,
      value: percentile(bigTimes, 50),
      unit: 'ms',
      baseline: { label: 'same, 10-event aggregate', value: percentile(smallTimes, 50) },
      note: `p99 ${percentile(bigTimes, 99).toFixed(2)} ms`,
    },
    {
      section: '2 O(1)',
      figure: 'seeding: 100-command batches, 8 in flight',
      value: (BIG_EVENTS / seedMs) * 1000,
      unit: 'events/s',
    },
  ];
}
