import type { BrowserContext, Page } from 'playwright-core';
import { launchProfile } from '../test/helpers/browser.ts';
import type { CounterCommand } from '../core/models/index.ts';
import type { ExecuteResult, EngineUpdate, SubscribeRequest } from '../core/engine-protocol.ts';

/** What the app page exposes as `globalThis.tally` (app/main.ts). */
export type TallyGlobal = {
  readonly transport: string;
  info(): Promise<unknown>;
  execute(
    stream: string,
    commands: CounterCommand | readonly CounterCommand[],
  ): Promise<ExecuteResult>;
  subscribe(request: SubscribeRequest, onUpdate: (update: EngineUpdate) => void): () => void;
};

type PortClient = { call(method: string, ...args: unknown[]): Promise<unknown> };
/** What the bench page exposes as `globalThis.bench` (bench/static/page.js). */
export type BenchGlobal = {
  engine(): PortClient;
  idb(): PortClient;
  drive(
    jobs: readonly (readonly [string, readonly CounterCommand[]])[],
    window: number,
    settle?: boolean,
  ): Promise<{ ms: number; failed: number }>;
};

/** The globals of both pages; cast inside `page.evaluate` (functions there are serialized). */
export type Win = { tally: TallyGlobal; bench: BenchGlobal };

/**
 * A fresh profile: its own IndexedDB and its own SharedWorker engine, in a browser of its own
 * whose profile is a directory on disk, as a person's is. (Playwright's `browser.newContext()`
 * makes incognito-like contexts, whose IndexedDB lives in memory: there a strict commit waits for
 * no disk, and strict and relaxed cost the same; the bench measured that until this was
 * changed.) Service workers are blocked: they only cache files, and their navigation fallback
 * would answer the bench page with index.html. (The app then starts as it does in a browser that
 * blocks them: every script from the HTTP cache. A person's installed app starts as in
 * `newInstalledProfile`.) Closing the context closes its browser and removes the profile; so does
 * closing its last page (keep one open: bench/cold-start.ts `closePages`).
 */
export async function newProfile(): Promise<BrowserContext & { dispose(): Promise<void> }> {
  const context = await launchProfile({ serviceWorkers: 'block' });
  // tsx compiles this code with esbuild's keepNames, which wraps inner functions in `__name(…)`;
  // the functions handed to page.evaluate carry those calls into the page.
  await context.addInitScript('globalThis.__name = (target) => target;');
  return context;
}

/** Profiles whose app is served by its service worker (`newInstalledProfile`). */
const installed = new WeakSet<BrowserContext>();

/**
 * A fresh profile where the app is installed as it is for every person who opened it before:
 * its service worker registered, active and serving the app's pages and scripts (from its
 * precache, which Chromium keeps compiled code for). The bench's own pages bypass it
 * (`benchPage`): its navigation fallback would answer them with the app.
 */
export async function newInstalledProfile(origin: string): Promise<BrowserContext> {
  const context = await launchProfile({ serviceWorkers: 'allow' });
  await context.addInitScript('globalThis.__name = (target) => target;');
  installed.add(context);
  const page = await context.newPage();
  try {
    await page.goto(origin);
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    // A page loaded before the worker was active is not served by it; a reload is.
    for (let tries = 0; ; tries++) {
      await page.reload();
      if (await page.evaluate(() => navigator.serviceWorker.controller !== null)) break;
      if (tries === 4) throw new Error('The service worker did not take up the app page.');
    }
  } finally {
    await page.close();
  }
  return context;
}

/**
 * Stops the service workers (as Chromium does after half a minute without pages): the next
 * navigation starts `context`'s again, as a person reopening the app after a while sees. (The
 * bench's attachment keeps Chromium from stopping them by itself.)
 */
export async function stopServiceWorkers(context: BrowserContext): Promise<void> {
  const page = await context.newPage();
  try {
    const cdp = await context.newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
  } finally {
    await page.close();
  }
}

/** Whether `context`'s app is served by its service worker (`newInstalledProfile`). */
export const isInstalled = (context: BrowserContext): boolean => installed.has(context);

/**
 * A new page of `context` for anything but the app: in an installed profile it bypasses the
 * service worker, so it is answered by the server (as a bench page or a baseline must be).
 */
export async function benchPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  if (installed.has(context)) {
    // The bypass holds only where this session has the network domain enabled (without it the
    // service worker still answers the page: tried).
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setBypassServiceWorker', { bypass: true });
  }
  return page;
}

/** The app, with its engine ready. */
export async function openApp(context: BrowserContext, origin: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(origin);
  await page.waitForFunction(() => 'tally' in globalThis);
  await page.evaluate(() => (globalThis as unknown as Win).tally.info());
  return page;
}

/** The bench page with nothing started: for the bare workers of the baselines. */
export async function openBare(context: BrowserContext, origin: string): Promise<Page> {
  const page = await benchPage(context);
  await page.goto(`${origin}/bench/page.html`);
  await page.waitForFunction(() => 'bench' in globalThis);
  return page;
}

/** The bench page: no UI, the engine over a raw Comlink port, and the bare IndexedDB worker. */
export async function openBench(context: BrowserContext, origin: string): Promise<Page> {
  const page = await benchPage(context);
  await page.goto(`${origin}/bench/page.html`);
  await page.waitForFunction(() => 'bench' in globalThis);
  await page.evaluate(() => (globalThis as unknown as Win).bench.engine().call('info'));
  return page;
}

export const counterStream = (label: string, n: number): string =>
  `counter-${label}${String(n).padStart(6, '0')}`;

/** Jobs that create `count` counters named `<label> n`. */
export function createJobs(label: string, count: number, from = 0): [string, CounterCommand[]][] {
  return Array.from({ length: count }, (_, i) => [
    counterStream(label, from + i),
    [{ type: 'create', name: `${label} ${from + i}` }],
  ]);
}

/**
 * Runs jobs through the bench page's raw engine port, `window` in flight. `settle`: timed, in
 * the page, until what they left behind their appends (heads, rows) is stored too.
 */
export async function drive(
  page: Page,
  jobs: readonly (readonly [string, readonly CounterCommand[]])[],
  window: number,
  { settle = false }: { readonly settle?: boolean } = {},
): Promise<{ ms: number; failed: number }> {
  const result = await page.evaluate(
    ([jobs, window, settle]) => (globalThis as unknown as Win).bench.drive(jobs, window, settle),
    [jobs, window, settle] as const,
  );
  if (result.failed > 0) throw new Error(`${result.failed} of ${jobs.length} commands failed.`);
  return result;
}

export const idbCall = <T>(page: Page, method: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(
    ([method, args]) => (globalThis as unknown as Win).bench.idb().call(method, ...args),
    [method, args] as const,
  ) as Promise<T>;

export const engineCall = <T>(page: Page, method: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(
    ([method, args]) => (globalThis as unknown as Win).bench.engine().call(method, ...args),
    [method, args] as const,
  ) as Promise<T>;
