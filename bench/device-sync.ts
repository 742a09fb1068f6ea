import type { BrowserContext, Page } from 'playwright-core';
import type { SyncUpdate } from '../core/engine-protocol.ts';
import { counterStream, engineCall, newProfile, openApp, openBench, type Win } from './pages.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { percentile } from './stats.ts';

const ROUNDS = 100;
const PENDING = 1_000;
const stream = counterStream('sync', 0);

type Watch = { seen: Map<number, number>; sync: SyncUpdate | undefined; syncedAt: number };
const watchOf = (page: Page) =>
  page.evaluate((stream) => {
    const w: Watch = { seen: new Map(), sync: undefined, syncedAt: 0 };
    (globalThis as unknown as { watch: Watch }).watch = w;
    const { tally } = globalThis as unknown as Win;
    const now = () => performance.timeOrigin + performance.now();
    tally.subscribe({ topic: 'view', view: 'counters' }, (update) => {
      if (update.type !== 'view') return;
      for (const { key, value } of update.rows)
        if (key === stream && !w.seen.has((value as { value: number }).value))
          w.seen.set((value as { value: number }).value, now());
    });
    tally.subscribe({ topic: 'sync' }, (update) => {
      if (update.type !== 'sync') return;
      w.sync = update;
      if (update.state === 'synced' && update.pending === 0) w.syncedAt = now();
    });
  }, stream);

const waitSeen = (page: Page, value: number, timeout = 15_000) =>
  page.waitForFunction(
    (value) => (globalThis as unknown as { watch: Watch }).watch.seen.has(value),
    value,
    { timeout },
  );

const waitSynced = (page: Page, timeout = 60_000) =>
  page.waitForFunction(
    () => {
      const { sync } = (globalThis as unknown as { watch: Watch }).watch;
      return sync?.state === 'synced' && sync.pending === 0;
    },
    undefined,
    { timeout },
  );

export const syncRows = (note: string): Row[] => [
  { section: '6 sync', figure: 'device → device propagation p50', value: null, unit: 'ms', note },
  { section: '6 sync', figure: 'device → device propagation p99', value: null, unit: 'ms', note },
  {
    section: '6 sync',
    figure: `rebase with ${PENDING.toLocaleString('en-US')} pending commands`,
    value: null,
    unit: 'ms',
    note,
  },
];

/**
 * §6, devices: two profiles as two devices joined to one space through the real server. Needs
 * the engine's sync client (EngineApi startSync/joinSpace/setOnline, topic 'sync'); without it
 * the rows say so.
 */
export async function measureDeviceSync(bench: Bench): Promise<Row[]> {
  const contexts: BrowserContext[] = [];
  try {
    const [a, b] = [await newProfile(bench.browser), await newProfile(bench.browser)];
    contexts.push(a, b);
    const benchA = await openBench(a, bench.origin);
    let link: string;
    try {
      ({ pairingLink: link } = await engineCall<{ pairingLink: string }>(
        benchA,
        'startSync',
        bench.origin,
      ));
    } catch (error) {
      return syncRows(`not measured (sync client not available: ${String(error).slice(0, 120)})`);
    }
    bench.log(`§6 device sync: ${ROUNDS} commands A → B, then a rebase of ${PENDING} pending`);
    const token = decodeURIComponent(new URL(link).hash.replace(/^#pair=/, ''));
    const benchB = await openBench(b, bench.origin);
    await engineCall(benchB, 'joinSpace', bench.origin, token);
    const [appA, appB] = [await openApp(a, bench.origin), await openApp(b, bench.origin)];
    await Promise.all([watchOf(appA), watchOf(appB)]);

    await appA.evaluate(
      (stream) =>
        (globalThis as unknown as Win).tally.execute(stream, { type: 'create', name: 'Synced' }),
      stream,
    );
    await waitSeen(appB, 0, 30_000);
    const propagation: number[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      const start = await appA.evaluate(async (stream) => {
        const start = performance.timeOrigin + performance.now();
        await (globalThis as unknown as Win).tally.execute(stream, { type: 'increment' });
        return start;
      }, stream);
      await waitSeen(appB, i);
      const seen = await appB.evaluate(
        (i) => (globalThis as unknown as { watch: Watch }).watch.seen.get(i)!,
        i,
      );
      propagation.push(seen - start);
    }

    await Promise.all([waitSynced(appA), waitSynced(appB)]);
    // B goes offline and piles up pending commands; A moves the same counter meanwhile.
    await engineCall(benchB, 'setOnline', false);
    await b.setOffline(true);
    const localMs = await appB.evaluate(
      async ([stream, n]) => {
        const { tally } = globalThis as unknown as Win;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await tally.execute(stream, { type: 'increment' });
        return performance.now() - t0;
      },
      [stream, PENDING] as const,
    );
    await appA.evaluate(
      (stream) => (globalThis as unknown as Win).tally.execute(stream, { type: 'increment' }),
      stream,
    );
    await waitSynced(appA);
    await b.setOffline(false);
    const t0 = await appB.evaluate(() => performance.timeOrigin + performance.now());
    await engineCall(benchB, 'setOnline', true);
    await waitSynced(appB, 120_000);
    const syncedAt = await appB.evaluate(
      () => (globalThis as unknown as { watch: Watch }).watch.syncedAt,
    );
    await waitSeen(appB, ROUNDS + 1 + PENDING, 30_000);
    return [
      {
        section: '6 sync',
        figure: `device → device propagation p50 (n=${ROUNDS})`,
        value: percentile(propagation, 50),
        unit: 'ms',
      },
      {
        section: '6 sync',
        figure: 'device → device propagation p99',
        value: percentile(propagation, 99),
        unit: 'ms',
      },
      {
        section: '6 sync',
        figure: `back online → rebased and synced, ${PENDING.toLocaleString('en-US')} pending commands`,
        value: syncedAt - t0,
        unit: 'ms',
        baseline: { label: `committing the ${PENDING} commands locally`, value: localMs },
      },
    ];
  } finally {
    for (const context of contexts) await context.close().catch(() => undefined);
  }
}
