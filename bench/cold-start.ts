import type { BrowserContext, Page } from 'playwright-core';
import { firstScreenAtHead } from '../test/helpers/browser.ts';
import { waitFor } from '../test/server/fixtures.ts';
import {
  benchPage,
  idbCall,
  isInstalled,
  openApp,
  openBench,
  stopServiceWorkers,
  type Win,
} from './pages.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { median } from './stats.ts';
import { firstScreenFrom, firstScreenRows } from '../core/first-screen.ts';

const REPEATS = 3;
/** Starts of each kind in §5b, alternated (a start swings by a third from one to the next). */
const START_REPEATS = 5;

async function closePages(bench: Bench, context: BrowserContext): Promise<void> {
  // A blank page stays: the profile's browser would quit with its last page (bench/pages.ts).
  const pages = context.pages();
  const blank = pages.find((page) => page.url() === 'about:blank') ?? (await context.newPage());
  for (const page of pages) if (page !== blank) await page.close();
  // The SharedWorker dies with the last page of the app's: the next page starts a fresh one.
  await bench.probe.waitGone();
}

/** §5a: the first command on a big aggregate, in a fresh SharedWorker (snapshot + tail). */
export async function measureColdAggregate(
  bench: Bench,
  context: BrowserContext,
  stream: string,
  events: number,
): Promise<Row[]> {
  bench.log(`§5 cold start: first command on a ${events}-event aggregate, ${REPEATS} times`);
  const first: number[] = [];
  const ready: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await closePages(bench, context);
    const t0 = Date.now();
    const page = await openApp(context, bench.origin);
    ready.push(Date.now() - t0);
    first.push(
      await page.evaluate(async (stream) => {
        const t = performance.now();
        const result = await (globalThis as unknown as Win).tally.execute(stream, {
          type: 'increment',
        });
        if (result.type !== 'accepted') throw new Error(result.reason);
        return performance.now() - t;
      }, stream),
    );
  }
  await closePages(bench, context);
  const page = await openBench(context, bench.origin);
  await idbCall(page, 'readTally', stream);
  const raw = await idbCall<{ ms: number; count: number }>(page, 'readTally', stream);
  await page.close();
  return [
    {
      section: '5 cold start',
      figure: `first command on a ${(events / 1000).toFixed(0)}k-event aggregate, fresh SharedWorker (median of ${REPEATS})`,
      value: median(first),
      unit: 'ms',
      baseline: { label: `raw getAll of its ${raw.count} events`, value: raw.ms },
      note: `page open → engine ready: median ${median(ready)} ms`,
    },
  ];
}

/**
 * The app at `url` in a new page of `context`, until its list shows `counters` counters; answers
 * the page and the time from its navigation's start (performance.now() counts from there).
 * Shown: every card of a short list, or a long list's first window, whose cards carry the list's
 * size (the virtual grid renders only what is near the screen).
 */
async function listShown(
  context: BrowserContext,
  url: string,
  counters: number,
): Promise<{ page: Page; ms: number; whole: number }> {
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'commit' });
  const shown = await page.waitForFunction(
    (n) =>
      (document.querySelectorAll('ul[aria-label="Counters"] > li').length >= n ||
        Number(
          document
            .querySelector('[aria-label="Counters"] [aria-setsize]')
            ?.getAttribute('aria-setsize'),
        ) >= n) &&
      performance.now(),
    counters,
    { polling: 'raf', timeout: 60_000 },
  );
  // And when the tab holds the whole list (not only its first screen: docs/architecture.md).
  const whole = await page.waitForFunction(
    () => {
      const tally = (
        globalThis as {
          tally?: { viewRows(view: string): unknown; viewListed(view: string): unknown };
        }
      ).tally;
      return (
        tally?.viewRows('counters') !== undefined &&
        tally.viewListed('counters') === undefined &&
        performance.now()
      );
    },
    undefined,
    { polling: 'raf', timeout: 60_000 },
  );
  return {
    page,
    ms: (await shown.jsonValue()) as number,
    whole: (await whole.jsonValue()) as number,
  };
}

/**
 * Waits until the engine has kept the list's first screen at the store's head, as it does once
 * a long list has been quiet for a moment (a person's app stays open longer than a benchmark's
 * page): the start measured is the start a person gets.
 */
async function firstScreenKept(context: BrowserContext, origin: string): Promise<void> {
  const page = await openBench(context, origin);
  try {
    await waitFor(() => firstScreenAtHead(page), 'the first screen to be kept', 30_000);
  } finally {
    await page.close();
  }
}

/** The bare baseline page (bench/static/cold-page.js) at `url`, until it has its rows. */
async function bareShown(
  context: BrowserContext,
  url: string,
): Promise<{ page: Page; ms: number; rows: number }> {
  const page = await benchPage(context);
  await page.goto(url, { waitUntil: 'commit' });
  const done = (await (
    await page.waitForFunction(() => (globalThis as { bareStart?: unknown }).bareStart, undefined, {
      polling: 'raf',
      timeout: 60_000,
    })
  ).jsonValue()) as { ms: number; rows: number; error?: string };
  if (done.error) throw new Error(`The bare start failed: ${done.error}`);
  return { page, ms: done.ms, rows: done.rows };
}

/**
 * §5b: opening the app on a profile with many counters, until the list shows them, beside the
 * bare baseline in the same profile, the two alternated. An installed profile starts the app as
 * a person's starts (served by its service worker); one that blocks service workers, as a
 * browser without them does (bench/pages.ts).
 */
export async function measureColdApp(
  bench: Bench,
  context: BrowserContext,
  counters: number,
): Promise<Row[]> {
  const installed = isInstalled(context);
  bench.log(`§5 cold start: app with ${counters} counters, ${START_REPEATS} times`);
  // Installed, its service worker is stopped before each start, the app's and the baseline's:
  // a person reopening the app after a while finds it stopped (Chromium stops it half a minute
  // after the last page; the bench's attachment would keep it running), and the navigation waits
  // for it to start. (A reopen within that half minute also finds the last page's process alive.)
  const before = async () => {
    await closePages(bench, context);
    if (installed) await stopServiceWorkers(context);
  };
  const render: number[] = [];
  const whole: number[] = [];
  // The baseline: a bare page and SharedWorker that open the same database and read the same
  // rows (bench/static/cold-page.js), timed the same way, in the same profile.
  const bare: number[] = [];
  let rows = 0;
  const screen = counters >= firstScreenFrom;
  if (screen) await firstScreenKept(context, bench.origin);
  for (let i = 0; i < START_REPEATS; i++) {
    await before();
    const shown = await listShown(context, bench.origin, counters);
    render.push(shown.ms);
    whole.push(shown.whole);
    await before();
    const done = await bareShown(context, `${bench.origin}/bench/cold-page.html`);
    bare.push(done.ms);
    rows = done.rows;
  }
  await closePages(bench, context);
  const page = await openBench(context, bench.origin);
  await idbCall(page, 'readTally');
  const raw = await idbCall<{ ms: number; count: number }>(page, 'readTally');
  await page.close();
  const how = installed
    ? 'installed, its service worker stopped (a reopen after a while)'
    : 'service workers blocked (every script from the HTTP cache)';
  return [
    {
      section: '5 cold start',
      figure: `app start → list shows ${counters.toLocaleString('en-US')} counters, ${how}, fresh SharedWorker (median of ${START_REPEATS})`,
      value: median(render),
      unit: 'ms',
      baseline: {
        label: `bare page + SharedWorker: open the database, getAll the list's ${rows.toLocaleString('en-US')} rows, post them${installed ? ', the service worker stopped before it too' : ''} (median of ${START_REPEATS})`,
        value: median(bare),
      },
      note: `${screen ? `from the first screen kept (${firstScreenRows} rows); the whole list in the tab at ${median(whole).toFixed(0)} ms; ` : ''}raw getAll of every event of the profile (${raw.count.toLocaleString('en-US')}): ${raw.ms.toFixed(0)} ms`,
    },
  ];
}

/**
 * §5c: a second tab opening while the engine runs (another tab of the profile has it), until its
 * list shows; beside a bare page whose SharedWorker is also running already and posts the rows it
 * keeps. Both timed from navigation, the first tab of each kept open throughout.
 */
export async function measureWarmApp(
  bench: Bench,
  context: BrowserContext,
  counters: number,
): Promise<Row[]> {
  bench.log(`§5 second tab: app with ${counters} counters, the engine running, ${REPEATS} times`);
  await closePages(bench, context);
  await listShown(context, bench.origin, counters);
  const app: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const { page, ms } = await listShown(context, bench.origin, counters);
    app.push(ms);
    await page.close();
  }
  await closePages(bench, context);
  const warmUrl = `${bench.origin}/bench/cold-page.html?warm`;
  const kept = await bareShown(context, warmUrl);
  const bare: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const { page, ms } = await bareShown(context, warmUrl);
    bare.push(ms);
    await page.close();
  }
  await kept.page.close();
  await closePages(bench, context);
  return [
    {
      section: '5 cold start',
      figure: `a second tab → list shows ${counters.toLocaleString('en-US')} counters, the engine already running${isInstalled(context) ? ', installed' : ''} (median of ${REPEATS})`,
      value: median(app),
      unit: 'ms',
      baseline: {
        label: `bare page, its SharedWorker already running: posts the rows it keeps (median of ${REPEATS})`,
        value: median(bare),
      },
    },
  ];
}
