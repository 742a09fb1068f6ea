import { randomUUID } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import type { SyncUpdate } from '../core/engine-protocol.ts';
import {
  counterStream,
  engineCall,
  newProfile,
  openApp,
  openBare,
  openBench,
  type Win,
} from './pages.ts';
import { newSpace } from './sync-ingest.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { percentile } from './stats.ts';

const ROUNDS = 100;
/** Rounds before the timed ones, Tally's and the baseline's alike: connections made, code warm. */
const WARMUP = 20;
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
    // Each pushed as it is made: the finally closes whichever was launched.
    const a = await newProfile();
    contexts.push(a);
    const b = await newProfile();
    contexts.push(b);
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
    const acks: number[] = [];
    for (let i = 1; i <= WARMUP + ROUNDS; i++) {
      const [start, acked] = await appA.evaluate(async (stream) => {
        const now = () => performance.timeOrigin + performance.now();
        const start = now();
        await (globalThis as unknown as Win).tally.execute(stream, { type: 'increment' });
        return [start, now()];
      }, stream);
      await waitSeen(appB, i);
      const seen = await appB.evaluate(
        (i) => (globalThis as unknown as { watch: Watch }).watch.seen.get(i)!,
        i,
      );
      if (i <= WARMUP) continue;
      acks.push(acked - start);
      propagation.push(seen - start);
    }
    await waitSynced(appA);
    // The same commands on the same page, one call each as above, with the device offline (sync
    // waiting for the network): what the push costs their acks.
    await engineCall(benchA, 'setOnline', false);
    const offlineAcks: number[] = [];
    for (let i = 0; i < ROUNDS; i++)
      offlineAcks.push(
        await appA.evaluate(async (stream) => {
          const t0 = performance.now();
          await (globalThis as unknown as Win).tally.execute(stream, { type: 'increment' });
          return performance.now() - t0;
        }, stream),
      );
    await engineCall(benchA, 'setOnline', true);
    // B has them all before it goes offline: the rebase below is of its own commands only.
    await waitSeen(appB, WARMUP + 2 * ROUNDS);

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
    await waitSeen(appB, WARMUP + 2 * ROUNDS + 1 + PENDING, 30_000);
    bench.log(`§6 device sync: the bare baseline, ${ROUNDS} events A → B`);
    // A failed baseline leaves Tally's figures standing, without a ratio.
    let bare: number[] | undefined;
    let bareNote: string | undefined;
    try {
      bare = await measureBareRelay(bench, ROUNDS);
    } catch (error) {
      bareNote = `bare baseline not measured: ${String(error).split('\n')[0]!.slice(0, 140)}`;
    }
    return [
      {
        section: '6 sync',
        figure: `command p50 on a device that syncs, its push going out (n=${ROUNDS})`,
        value: percentile(acks, 50),
        unit: 'ms',
        baseline: {
          label: 'the same commands on the same page, the device offline, p50',
          value: percentile(offlineAcks, 50),
        },
        note: `p99 ${percentile(acks, 99).toFixed(2)} ms, offline ${percentile(offlineAcks, 99).toFixed(2)} ms`,
      },
      {
        section: '6 sync',
        figure: `device → device propagation p50 (n=${ROUNDS})`,
        value: percentile(propagation, 50),
        unit: 'ms',
        ...(bare
          ? {
              baseline: {
                label:
                  'bare devices, same server: a strict put and the push; the live feed, a strict put, the page told (p50)',
                value: percentile(bare, 50),
              },
            }
          : { note: bareNote }),
      },
      {
        section: '6 sync',
        figure: 'device → device propagation p99',
        value: percentile(propagation, 99),
        unit: 'ms',
        ...(bare
          ? { baseline: { label: 'bare devices, same server (p99)', value: percentile(bare, 99) } }
          : { note: bareNote }),
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

type Relay = { seen: Map<number, number>; following: boolean; errors: string[] };

/** Starts the bare relay worker (bench/static/relay-worker.js) in `page`. */
const relayIn = (page: Page) =>
  page.evaluate(() => {
    const relay: Relay = { seen: new Map(), following: false, errors: [] };
    const worker = new SharedWorker('/bench/relay-worker.js');
    worker.port.onmessage = ({ data }) => {
      const message = data as {
        type: string;
        versions?: number[];
        message?: string;
        answer?: string;
      };
      if (message.type === 'following') relay.following = true;
      // Timed here, in the page, as Tally's figure is timed in its page's subscription.
      const now = performance.timeOrigin + performance.now();
      if (message.type === 'seen')
        for (const version of message.versions!)
          if (!relay.seen.has(version)) relay.seen.set(version, now);
      if (message.type === 'error') relay.errors.push(message.message!);
      if (message.type === 'pushed' && !message.answer?.includes('"accepted"'))
        relay.errors.push(`push not accepted: ${message.answer?.slice(0, 200)}`);
    };
    Object.assign(globalThis, { relay, relayPort: worker.port });
  });

/**
 * The floor under device → device, on the same server, Redis and browser: a bare device A (a
 * SharedWorker: one strict put, then the push over HTTP) and a bare device B (the live feed
 * over fetch, one strict put, a message to its page; A follows the feed too, as every device
 * does, and stores nothing of its echo). Timed as Tally's figure is, from A's page
 * asking to B's page told; the rounds one after another.
 */
export async function measureBareRelay(bench: Bench, rounds: number): Promise<number[]> {
  const contexts: BrowserContext[] = [];
  try {
    // Each pushed as it is made: the finally closes whichever was launched.
    const a = await newProfile();
    contexts.push(a);
    const b = await newProfile();
    contexts.push(b);
    const { space, token } = await newSpace(bench.origin);
    const [pageA, pageB] = [await openBare(a, bench.origin), await openBare(b, bench.origin)];
    await Promise.all([relayIn(pageA), relayIn(pageB)]);
    const feed = { origin: bench.origin, space, token };
    for (const [page, store] of [
      [pageA, false],
      [pageB, true],
    ] as const) {
      await page.evaluate(
        ({ feed, store }) => {
          const { relayPort } = globalThis as unknown as { relayPort: MessagePort };
          relayPort.postMessage({ type: 'follow', ...feed, after: '0', store });
        },
        { feed, store },
      );
      await page.waitForFunction(() => (globalThis as unknown as { relay: Relay }).relay.following);
    }
    const stream = `counter-relay${randomUUID().slice(0, 8)}`;
    const event = (version: number) => ({
      id: randomUUID(),
      stream,
      version,
      type: version === 1 ? 'Created' : 'Incremented',
      data: version === 1 ? { name: 'Relay' } : { amount: 1 },
      meta: {
        time: Date.now(),
        device: 'device-bench-relay',
        command: randomUUID(),
        schema: version === 1 ? 1 : 2,
      },
    });
    const times: number[] = [];
    for (let version = 1; version <= 1 + WARMUP + rounds; version++) {
      const body = {
        streams: [{ stream, expectedVersion: version - 1, events: [event(version)] }],
      };
      const start = await pageA.evaluate(
        ({ feed, body }) => {
          const start = performance.timeOrigin + performance.now();
          const { relayPort } = globalThis as unknown as { relayPort: MessagePort };
          relayPort.postMessage({ type: 'push', ...feed, body });
          return start;
        },
        { feed, body },
      );
      try {
        await pageB.waitForFunction(
          (version) => {
            const { relay } = globalThis as unknown as { relay: Relay };
            if (relay.errors.length > 0) throw new Error(relay.errors.join('; '));
            return relay.seen.has(version);
          },
          version,
          { timeout: 15_000 },
        );
      } catch (error) {
        // A refused push is told to A's page, not B's: say it rather than B's timeout.
        const sent = await pageA.evaluate(
          () => (globalThis as unknown as { relay: Relay }).relay.errors,
        );
        throw sent.length > 0 ? new Error(sent.join('; ')) : error;
      }
      const seen = await pageB.evaluate(
        (version) => (globalThis as unknown as { relay: Relay }).relay.seen.get(version)!,
        version,
      );
      // The first is the stream's creation, as in Tally's figure; then the warm-up rounds.
      if (version > 1 + WARMUP) times.push(seen - start);
    }
    const errors = await pageA.evaluate(
      () => (globalThis as unknown as { relay: Relay }).relay.errors,
    );
    if (errors.length > 0) throw new Error(errors.join('; '));
    return times;
  } finally {
    for (const context of contexts) await context.close().catch(() => undefined);
  }
}
