import type { Page } from 'playwright-core';
import { counterStream, idbCall, type Win } from './pages.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { percentile } from './stats.ts';

export const SAMPLES = 2_000;
export const BIG_EVENTS = 100_000;
export const small = counterStream('small', 0);
export const big = counterStream('big', 0);

/**
 * Rounds of §1's measurements, each in turn: the bare round trip swings by a third from one
 * minute to the next on this machine, and measured in a phase of its own it made the same
 * engine's ratio anything from 1.4× to 2.3×. Alternated, a drift falls on both alike.
 */
const ROUNDS = 5;

/** `work`'s measurements alternated over ROUNDS rounds, each taking `total` samples in all. */
async function alternated<K extends string>(
  work: Readonly<Record<K, (n: number) => Promise<number[]>>>,
  total: number | Readonly<Record<K, number>>,
): Promise<Record<K, number[]>> {
  const keys = Object.keys(work) as K[];
  const samples = Object.fromEntries(keys.map((key) => [key, [] as number[]])) as Record<
    K,
    number[]
  >;
  for (let round = 0; round < ROUNDS; round++)
    for (const key of keys) {
      const all = typeof total === 'number' ? total : total[key];
      // The rounds' shares add up to the total (the first ones take the remainder).
      const n = Math.floor(all / ROUNDS) + (round < all % ROUNDS ? 1 : 0);
      samples[key].push(...(await work[key](n)));
    }
  return samples;
}

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

/** `n` sequential round trips from the bench page: tab → bare SharedWorker → 1 put → tab. */
const bareRoundTrips = (page: Page, n: number, durability: 'strict' | 'relaxed') =>
  page.evaluate(
    async ([n, durability]) => {
      const idb = (globalThis as unknown as Win).bench.idb();
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await idb.call('putOne', durability);
        times.push(performance.now() - t0);
      }
      return times;
    },
    [n, durability] as const,
  );

/**
 * `n` clicks on a counter's **+** in the app, each timed from the click to the DOM showing the
 * new number (a MutationObserver on the card's output, so it is the render, not the paint).
 */
export function timeClicks(page: Page, name: string, n: number): Promise<number[]> {
  return page.evaluate(
    async ([name, n]) => {
      const button = document.querySelector<HTMLButtonElement>(
        `button[aria-label="Increment ${name}"]`,
      );
      const output = document.querySelector(`output[aria-label="${name} count"]`);
      if (!button || !output) throw new Error(`No card for ${name} on screen.`);
      const shown = () => Number((output.textContent ?? '').replace(/\D/g, ''));
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const expected = shown() + 1;
        const t0 = performance.now();
        const seen = new Promise<number>((resolve) => {
          const observer = new MutationObserver(() => {
            if (shown() !== expected) return;
            observer.disconnect();
            resolve(performance.now());
          });
          observer.observe(output, { childList: true, characterData: true, subtree: true });
        });
        button.click();
        times.push((await seen) - t0);
      }
      return times;
    },
    [name, n] as const,
  );
}

const CLICKS = 500;

/**
 * §1 command latency and §2 O(1), in one profile that keeps the 100k-event aggregate for the
 * fan-out and cold-start sections. The baseline is the bare round trip with the engine's
 * durability: tab → a bare SharedWorker → one strict put → tab; relaxed is shown beside it.
 */
export async function measureLatency(bench: Bench, app: Page, benchPage: Page): Promise<Row[]> {
  const { probe, log } = bench;
  await create(app, small, 'Small', 9);
  await create(app, big, 'Big');
  await create(app, counterStream('warm', 0), 'Warm-up');
  await timeSequential(app, counterStream('warm', 0), 300);

  await timeClicks(app, 'Small', 50);
  await bareRoundTrips(benchPage, 200, 'strict');
  log(
    `§1 ${SAMPLES} sequential commands (aggregate of 10 events), ${CLICKS} clicks → number on screen and ${SAMPLES} bare strict round trips, alternated in ${ROUNDS} rounds`,
  );
  const before = await probe.registry();
  const {
    commands: smallTimes,
    clicks,
    strict,
  } = await alternated(
    {
      commands: (n) => timeSequential(app, small, n),
      clicks: (n) => timeClicks(app, 'Small', n),
      strict: (n) => bareRoundTrips(benchPage, n, 'strict'),
    },
    { commands: SAMPLES, clicks: CLICKS, strict: SAMPLES },
  );
  const after = await probe.registry();
  // A click is one command too.
  const txPerCommand =
    before && after ? (after.transactions - before.transactions) / (SAMPLES + CLICKS) : Number.NaN;

  log('§1 references: bare relaxed round trips, the put alone, the engine-shaped writes');
  const relaxed = await bareRoundTrips(benchPage, SAMPLES, 'relaxed');
  const inWorker = await idbCall<number[]>(benchPage, 'latency', SAMPLES, 'strict');
  const shaped = await benchPage.evaluate(async (n) => {
    const idb = (globalThis as unknown as Win).bench.idb();
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await idb.call('commandWrites', 'strict');
      times.push(performance.now() - t0);
    }
    return times;
  }, SAMPLES);
  // Mean, not a percentile: one round trip is some tens of µs, a few ticks of the page's clock
  // (5 µs, cross-origin isolated).
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

  const strictP50 = percentile(strict, 50);
  const bareLabel = `bare strict round trip p50: tab → bare SharedWorker → 1 put → tab (alternated with the engine's in ${ROUNDS} rounds)`;
  const s = '1 latency';
  return [
    {
      section: s,
      figure: `command p50 (tab → SharedWorker → IndexedDB → tab, n=${SAMPLES})`,
      value: percentile(smallTimes, 50),
      unit: 'ms',
      baseline: { label: bareLabel, value: strictP50 },
      note: `${txPerCommand.toFixed(2)} IDB transactions per command`,
    },
    {
      section: s,
      figure: 'command p99',
      value: percentile(smallTimes, 99),
      unit: 'ms',
      baseline: {
        label: `bare strict round trip p99 (alternated in ${ROUNDS} rounds)`,
        value: percentile(strict, 99),
      },
    },
    {
      section: s,
      figure: `click on + → new number in the DOM, p50 (n=${CLICKS})`,
      value: percentile(clicks, 50),
      unit: 'ms',
      baseline: { label: bareLabel, value: strictP50 },
      note: `p99 ${percentile(clicks, 99).toFixed(2)} ms`,
    },
    {
      section: s,
      figure: 'reference: bare strict round trip p50',
      value: strictP50,
      unit: 'ms',
      baseline: {
        label: 'the strict put alone, timed in the worker, p50',
        value: percentile(inWorker, 50),
      },
      note: `message round trip alone: mean ${echoMean.toFixed(3)} ms`,
    },
    {
      section: s,
      figure: 'reference: bare strict round trip writing what one command writes, p50',
      value: percentile(shaped, 50),
      unit: 'ms',
      baseline: { label: 'bare strict round trip p50', value: strictP50 },
      note: `the event with its command, its position in it, no read (outbox entry, head, row and the position in meta are written behind), engine-shaped stores; p99 ${percentile(shaped, 99).toFixed(2)} ms`,
    },
    {
      section: s,
      figure: 'reference: bare relaxed round trip p50 (Chromium’s default durability)',
      value: percentile(relaxed, 50),
      unit: 'ms',
      baseline: { label: 'bare strict round trip p50', value: strictP50 },
      note: `p99 ${percentile(relaxed, 99).toFixed(2)} ms`,
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

/**
 * §1 at scale: clicks on + with the throughput section's 1,000 counters in the list (a long list,
 * rendered a window at a time), beside the bare strict round trip measured in the same profile.
 * What a click costs where every count re-renders the page's list (§1's list holds a few).
 */
export async function measureClicksAtScale(
  bench: Bench,
  app: Page,
  benchPage: Page,
  name: string,
  counters: number,
): Promise<Row[]> {
  bench.log(`§1 ${CLICKS} clicks → number on screen, ${counters} counters in the list`);
  // The engine was started for this page: the whole list in the tab and the card on screen
  // first, then enough clicks that its start is behind them (§1's list follows thousands).
  await app.waitForSelector(`button[aria-label="Increment ${name}"]`);
  await app.waitForFunction(() => {
    const { tally } = globalThis as unknown as {
      tally: { viewRows(view: string): unknown; viewListed(view: string): unknown };
    };
    return tally.viewRows('counters') !== undefined && tally.viewListed('counters') === undefined;
  });
  await timeClicks(app, name, 300);
  await bareRoundTrips(benchPage, 200, 'strict');
  const { clicks, strict } = await alternated(
    {
      clicks: (n) => timeClicks(app, name, n),
      strict: (n) => bareRoundTrips(benchPage, n, 'strict'),
    },
    { clicks: CLICKS, strict: SAMPLES },
  );
  return [
    {
      section: '1 latency',
      figure: `click on + → new number in the DOM, ${counters.toLocaleString('en-US')} counters in the list, p50 (n=${CLICKS})`,
      value: percentile(clicks, 50),
      unit: 'ms',
      baseline: {
        label: `bare strict round trip p50, same profile (alternated with the clicks in ${ROUNDS} rounds)`,
        value: percentile(strict, 50),
      },
      note: `p99 ${percentile(clicks, 99).toFixed(2)} ms`,
    },
  ];
}
