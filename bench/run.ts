/**
 * `npm run bench` (through scripts/bench.mjs, which builds the app first): every figure beside
 * a baseline measured in the same run, printed as a table and written to bench-results/.
 * Never part of `npm test`; nothing here asserts on time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { measureBundle } from './bundle.ts';
import { measureColdAggregate, measureColdApp, measureWarmApp } from './cold-start.ts';
import { measureDeviceSync, syncRows } from './device-sync.ts';
import { measureCrossInstance } from './cross-instance.ts';
import { measureFanOut } from './fan-out.ts';
import { startHarness } from './harness.ts';
import { BIG_EVENTS, big, measureClicksAtScale, measureLatency } from './latency.ts';
import { describeMachine } from './machine.ts';
import { measureMemory } from './memory.ts';
import { createJobs, drive, newInstalledProfile, newProfile, openApp, openBench } from './pages.ts';
import { jsonResults, markdownTable, textTable, type Row } from './report.ts';
import type { Bench } from './section.ts';
import { measureJoin } from './join.ts';
import { measureIngest } from './sync-ingest.ts';
import { COUNTERS, measureThroughput } from './throughput.ts';
import { EngineProbe } from './worker-cdp.ts';

const buildDir = process.env.TALLY_BENCH_BUILD ?? process.argv[2];
if (!buildDir) throw new Error('Usage: TALLY_BENCH_BUILD=<production build dir> bench/run.ts');
const outDir = join(process.cwd(), 'bench-results');

const log = (line: string) =>
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const started = Date.now();
const rows: Row[] = [];

/**
 * `TALLY_BENCH_ONLY=3` runs only the sections whose name starts with it (for working on one
 * figure; `3,5` for several; `6 sync: devices` for one part of a section); such a partial run prints its table but leaves bench-results/
 * alone.
 */
const only = process.env.TALLY_BENCH_ONLY?.split(',').filter(Boolean);

/** A failed section becomes a row saying so; the others still run. */
async function section(name: string, work: () => Promise<Row[]>): Promise<void> {
  if (only && !only.some((prefix) => name.startsWith(prefix))) return;
  try {
    rows.push(...(await work()));
  } catch (error) {
    log(`✗ ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    rows.push({
      section: name,
      figure: 'failed',
      value: null,
      unit: '',
      note: String(error instanceof Error ? error.message : error)
        .split('\n')[0]!
        .slice(0, 160),
    });
  }
}

/**
 * One profile per group of sections, closed before the next (the probe sees one engine);
 * `installed`: the app served by its service worker, as a person's is (bench/pages.ts).
 */
async function withProfile(
  bench: Bench,
  work: (context: BrowserContext) => Promise<void>,
  options: { readonly installed?: boolean } = {},
) {
  const context = options.installed ? await newInstalledProfile(bench.origin) : await newProfile();
  try {
    // Each profile is a browser of its own (on disk: bench/pages.ts), with its own probe.
    bench.probe = await EngineProbe.open(context.browser()!);
    await work(context);
  } finally {
    await bench.probe.close().catch(() => undefined);
    await context.close().catch(() => undefined);
  }
}

const harness = await startHarness(buildDir);
let exitCode = 0;
try {
  // Replaced by each profile's own (`withProfile`); this one sees the harness's browser.
  const probe = await EngineProbe.open(harness.browser);
  const bench: Bench = {
    origin: harness.server.url,
    probe,
    buildDir,
    redisUrl: harness.redis.url,
    log,
  };
  const machine = describeMachine(harness.browser);

  /** §1 at scale: clicks on `name`'s + in a fresh app page of `context`, its list `counters` long. */
  const clicksIn = (context: BrowserContext, name: string, counters: number) =>
    section('1 latency', async () =>
      measureClicksAtScale(
        bench,
        await openApp(context, bench.origin),
        await openBench(context, bench.origin),
        name,
        counters,
      ),
    );
  await withProfile(bench, async (context) => {
    const app = await openApp(context, bench.origin);
    const benchPage = await openBench(context, bench.origin);
    await section('1 latency', () => measureLatency(bench, app, benchPage));
    await section('4 fan-out', async () =>
      measureFanOut(bench, app, await openApp(context, bench.origin)),
    );
    await section('5 cold start', () => measureColdAggregate(bench, context, big, BIG_EVENTS));
  });
  await withProfile(
    bench,
    async (context) => {
      const page = await openBench(context, bench.origin);
      await section('3 throughput', () => measureThroughput(bench, page));
      await section('5 cold start', () => measureColdApp(bench, context, COUNTERS));
      await section('5 cold start', () => measureWarmApp(bench, context, COUNTERS));
      await clicksIn(context, 'tp 0', COUNTERS);
    },
    { installed: true },
  );
  // The same start in a profile that blocks service workers, as a browser without them starts
  // the app: its scripts and the engine's from the HTTP cache, compiled as they load.
  await withProfile(bench, (context) =>
    section('5 cold start', async () => {
      const page = await openBench(context, bench.origin);
      await drive(page, createJobs('tp', COUNTERS), 200);
      await page.close();
      return measureColdApp(bench, context, COUNTERS);
    }),
  );
  await section('6 sync: ingest', () => measureIngest(bench));
  await section('6 sync: devices', async () => {
    try {
      return await measureDeviceSync(bench);
    } catch (error) {
      return syncRows(`not measured (${String(error).split('\n')[0]!.slice(0, 140)})`);
    }
  });
  await section('6 sync: join', () => measureJoin(bench));
  await section('6 sync: instances', () => measureCrossInstance(bench));
  await withProfile(
    bench,
    async (context) => {
      const page = await openBench(context, bench.origin);
      await section('7 memory', () => measureMemory(bench, page));
      // The same profile, now holding 100,000 counters: the list still appears at once.
      await section('7 memory', () => measureColdApp(bench, context, 100_000));
      // And a count in that list: what a person with a long list gets on every tap.
      await clicksIn(context, 'mem 0', 100_000);
    },
    { installed: true },
  );
  await section('8 bundle', async () => measureBundle(buildDir));
  await probe.close();

  const results = {
    machine: { ...machine, 'bench time': `${((Date.now() - started) / 1000).toFixed(0)} s` },
    rows,
  };
  console.log(textTable(results));
  if (!only) {
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'latest.json'), jsonResults(results));
    writeFileSync(join(outDir, 'latest.md'), markdownTable(results));
    log(`wrote ${join('bench-results', 'latest.json')} and latest.md`);
  }
} catch (error) {
  exitCode = 1;
  log(`✗ ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await harness.close();
}
process.exit(exitCode);
