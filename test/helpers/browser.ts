import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Playwright's own `--disable-features` list for Chromium (its `chromiumSwitches`), read from
 * its bundle: Chromium keeps only the last such switch, so ours must carry Playwright's too, or
 * it would silently turn Playwright's off (HTTPS upgrades, storage partitioning…).
 */
export function playwrightDisabledFeatures(): string[] {
  return (readDisabledFeatures ??= readPlaywrightDisabledFeatures());
}

/** Read once per process: the bundle is a few megabytes. */
let readDisabledFeatures: string[] | undefined;

function readPlaywrightDisabledFeatures(): string[] {
  const bundle = readFileSync(
    join(
      dirname(createRequire(import.meta.url).resolve('playwright-core/package.json')),
      'lib',
      'coreBundle.js',
    ),
    'utf8',
  );
  const list = /disabledFeatures = \[([\s\S]*?)\]\.filter\(Boolean\)/.exec(bundle)?.[1];
  const features = [...(list ?? '').replace(/\/\/.*$/gm, '').matchAll(/"([^"]+)"/g)].map(
    (match) => match[1]!,
  );
  if (features.length === 0)
    throw new Error(
      "Playwright's list of disabled Chromium features was not found in its bundle: update test/helpers/browser.ts.",
    );
  return features;
}

/**
 * Features we turn off beside Playwright's: headless Chromium loads its omnibox popup (a WebUI
 * page of some fifty scripts) with every new page, a few hundred milliseconds of CPU on two
 * cores in the middle of every start a test or the bench times.
 */
export const ourDisabledFeatures = [
  'WebUIOmniboxPopup',
  'WebUIOmniboxFullPopup',
  'WebUIOmniboxAimPopup',
] as const;

function launchOptions(extraArgs: readonly string[] = []) {
  if (!existsSync(chromiumPath))
    throw new Error(
      `Chromium is missing at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH).`,
    );
  const theirs = playwrightDisabledFeatures();
  return {
    executablePath: chromiumPath,
    headless: true,
    // Playwright's switch is replaced by one that carries its features and ours.
    ignoreDefaultArgs: [`--disable-features=${theirs.join(',')}`],
    // The machine's network is closed: Chromium's own background traffic only makes noise.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--disable-features=${[...theirs, ...ourDisabledFeatures].join(',')}`,
      ...extraArgs,
    ],
  };
}

/**
 * Closes `page`, the last page of its profile, and waits until the profile's engine (its
 * SharedWorker) has gone: Chromium stops a SharedWorker after its last page closes, not at once,
 * and a page opened meanwhile would join the old engine instead of starting a fresh one.
 */
export async function closeLastPage(page: Page, timeoutMs = 15_000): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  const { targetInfo } = (await cdp.send('Target.getTargetInfo')) as {
    targetInfo: { browserContextId?: string };
  };
  await cdp.detach();
  await page.close();
  const browser = page.context().browser();
  if (!browser || !targetInfo.browserContextId) return;
  const session = await browser.newBrowserCDPSession();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { targetInfos } = (await session.send('Target.getTargets')) as {
        targetInfos: { type: string; browserContextId?: string }[];
      };
      if (
        !targetInfos.some(
          (target) =>
            target.type === 'shared_worker' &&
            target.browserContextId === targetInfo.browserContextId,
        )
      )
        return;
      if (Date.now() > deadline) throw new Error('The engine did not stop after its last page.');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await session.detach().catch(() => undefined);
  }
}

/** Debian's Chromium, headless; never a downloaded browser. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  const browser = await chromium.launch(launchOptions(extraArgs));
  const { newContext, newPage } = browser;
  browser.newContext = async (...args) => watchPageErrors(await newContext.apply(browser, args));
  browser.newPage = async (...args) => {
    const page = await newPage.apply(browser, args);
    watchPageErrors(page.context());
    return page;
  };
  return browser;
}

/**
 * Errors no page handled (an uncaught exception, a rejection nobody caught) in any page of a
 * context made here, since the last `takePageErrors()`: the end-to-end suite fails a test that
 * leaves one (test/helpers/page-errors.ts).
 */
const pageErrors: string[] = [];
const watched = new WeakSet<BrowserContext>();

function watchPageErrors<T extends BrowserContext>(context: T): T {
  if (watched.has(context)) return context;
  watched.add(context);
  context.on('weberror', (error) =>
    pageErrors.push(
      `${error.page()?.url() ?? 'a page'}: ${error.error().stack ?? error.error().message}`,
    ),
  );
  return context;
}

export function takePageErrors(): string[] {
  return pageErrors.splice(0);
}

/**
 * Removes a browser's profile directory. The browser goes on writing it for a moment after it
 * closes: tried again for up to three seconds; a directory still left in the system's temporary
 * files is no failure.
 */
export async function removeProfileDir(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch (error) {
      if (attempt === 30) {
        console.warn(`Could not remove the browser profile ${dir}:`, error);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * A browser with a real profile on disk, not an incognito-like context (whose IndexedDB is kept
 * in memory, so a strict commit there never waits for the disk): what installing a PWA needs,
 * and what a person's browser is. The profile is removed once the browser closes; `dispose()`
 * closes it and waits for that.
 */
export async function launchProfile(
  options: { readonly serviceWorkers?: 'allow' | 'block' } = {},
): Promise<BrowserContext & { dispose(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-profile-'));
  let removed: Promise<void> | undefined;
  const remove = () => (removed ??= removeProfileDir(dir));
  const context = await chromium
    .launchPersistentContext(dir, { ...launchOptions(), ...options })
    .catch(async (error: unknown) => {
      await remove();
      throw error;
    });
  context.once('close', () => void remove());
  watchPageErrors(context);
  return Object.assign(context, {
    dispose: async () => {
      await context.close();
      await remove();
    },
  });
}

/**
 * A browser on the profile in `dir`, which stays when it closes (the test that made it removes
 * it): to start a browser again on what one that was killed left. `kill()` ends the browser as a
 * crash would, SIGKILL to its processes at once (its process group: Playwright starts it as
 * the leader of one), and resolves once none of them runs and Playwright has seen it go.
 */
export async function launchProfileAt(
  dir: string,
): Promise<BrowserContext & { kill(): Promise<void> }> {
  const context = watchPageErrors(await chromium.launchPersistentContext(dir, launchOptions()));
  return Object.assign(context, {
    kill: async () => {
      const gone = new Promise<void>((resolve) => context.once('close', () => resolve()));
      process.kill(-browserProcessOf(dir), 'SIGKILL');
      await gone;
      // Zombies are reaped by their parent (Playwright, for the main process) and hold nothing.
      for (let waited = 0; processesOf(dir).some((pid) => !isZombie(pid)); waited += 50) {
        if (waited > 10_000) throw new Error(`The browser on ${dir} did not stop.`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  });
}

/** The main process of the browser running the profile in `dir` (Linux: read from /proc). */
function browserProcessOf(dir: string): number {
  // Its renderers, GPU and utility processes carry the profile too, and a `--type`.
  const main = processesOf(dir).find(
    (pid) => !commandLineOf(pid)?.some((arg) => arg.startsWith('--type=')),
  );
  if (main === undefined) throw new Error(`No browser process runs the profile ${dir}.`);
  return main;
}

/** Every process started with the profile in `dir`. */
function processesOf(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => commandLineOf(pid)?.includes(`--user-data-dir=${dir}`));
}

function commandLineOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
}

function isZombie(pid: number): boolean {
  try {
    // The state follows the command's name in parentheses, which may itself hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // gone
  }
}

/** What has keyboard focus: its label (aria-label, or its <label>'s words), else its words. */
export const focusedOn = (page: Page): Promise<string | null | undefined> =>
  page.evaluate(() => {
    const element = document.activeElement as HTMLInputElement | null;
    if (!element || element === document.body) return 'the page';
    return (
      element.getAttribute('aria-label') ??
      element.labels?.[0]?.textContent?.trim() ??
      element.textContent?.trim()
    );
  });

/** The text of `X count`, as a number. */
export async function countOf(page: Page, name: string): Promise<number> {
  return Number(await page.getByLabel(`${name} count`, { exact: true }).textContent());
}

/** Waits until `X count` shows exactly `value`. */
export async function expectCount(
  page: Page,
  name: string,
  value: number,
  timeout = 20_000,
): Promise<void> {
  await page
    .getByLabel(`${name} count`, { exact: true })
    .filter({ hasText: new RegExp(`^${value}$`) })
    .waitFor({ timeout });
}

/** Answers yes in the dialog a pairing link opened: this device joins that space. */
export async function acceptJoin(page: Page): Promise<void> {
  await page
    .getByRole('dialog', { name: 'Join a space' })
    .getByRole('button', { name: 'Join space' })
    .click();
}

export async function addCounter(page: Page, name: string): Promise<void> {
  await page.getByLabel('Counter name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Add counter', exact: true }).click();
  await expectCount(page, name, 0);
}

/**
 * A counter's history event by event (versions and the value after each), as the engine sends
 * it to the page: what exactness checks compare. The panel a person reads groups these into
 * actions; `test/app/daily.e2e.test.ts` checks that.
 */
export async function historyOf(
  page: Page,
  name: string,
): Promise<{ version: number; value: number }[]> {
  const stream = await counterIdOf(page, name);
  return page.evaluate(
    (stream) =>
      new Promise<{ version: number; value: number }[]>((resolve) => {
        type Update = { type: string; entries: { version: number; value: number }[] };
        const tally = (
          globalThis as unknown as {
            tally: {
              subscribe(
                r: { topic: 'history'; stream: string },
                cb: (u: Update) => void,
              ): () => void;
            };
          }
        ).tally;
        const stop = tally.subscribe({ topic: 'history', stream }, (update) => {
          if (update.type !== 'history') return;
          stop();
          resolve(update.entries.map(({ version, value }) => ({ version, value })));
        });
      }),
    stream,
  );
}

/** The stream id of the counter named `name`, asked of the page's engine client. */
export function counterIdOf(page: Page, name: string): Promise<string> {
  return page.evaluate(
    (name) =>
      new Promise<string>((resolve, reject) => {
        type Rows = { rows: { value: { id: string; name: string } }[] };
        const tally = (
          globalThis as unknown as {
            tally: {
              subscribe(r: { topic: 'view'; view: 'counters' }, cb: (u: Rows) => void): () => void;
            };
          }
        ).tally;
        const stop = tally.subscribe({ topic: 'view', view: 'counters' }, ({ rows }) => {
          stop();
          const row = rows.map((r) => r.value).find((r) => r.name === name);
          if (row) resolve(row.id);
          else reject(new Error(`No counter named ${name}.`));
        });
      }),
    name,
  );
}

/** Opens a card's "More" panel (move, reset, rename, set value, step, history), if closed. */
export async function openMore(page: Page, name: string): Promise<void> {
  const toggle = page.getByRole('button', { name: `More for ${name}`, exact: true });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
}

/**
 * Whether the engine of `page`'s origin has kept its list's first screen at the store's head
 * (and, given `listed`, with that many counters listed), read from IndexedDB in the page: what
 * a start after it shows first (worker/first-screen.ts).
 */
export function firstScreenAtHead(page: Page, listed?: number): Promise<boolean> {
  return page.evaluate(
    (listed) =>
      new Promise<boolean>((resolve) => {
        const opening = indexedDB.open('tally');
        opening.onsuccess = () => {
          const tx = opening.result.transaction(['meta', 'events']);
          const meta = tx.objectStore('meta');
          const screen = meta.get('firstScreen');
          const head = meta.get('head');
          // The store's position: the newest event's, or `head` where higher (worker/written-behind.ts).
          const last = tx.objectStore('events').openKeyCursor(null, 'prev');
          tx.oncomplete = () => {
            opening.result.close();
            const kept = screen.result as { listed?: number; position?: number } | undefined;
            const position = Math.max(
              (head.result as { position?: number } | undefined)?.position ?? 0,
              Number(last.result?.primaryKey ?? 0),
            );
            resolve((listed === null || kept?.listed === listed) && kept?.position === position);
          };
        };
        opening.onerror = () => resolve(false);
      }),
    listed ?? null,
  );
}

/**
 * Records which components with hooks rendered in each of React's commits, through the hook
 * React DOM calls for its developer tools (production builds call it too): a component rendered
 * when its first hook is a new object (React makes its hooks anew for each render, and keeps them
 * when it bails out). Each commit: whether the App rendered, for each component rendered inside
 * a card its counter, how many other components rendered, and the numbers on screen then.
 */
export const RECORD_RENDERS = `(() => {
  const commits = (globalThis.commits = []);
  let before = new Set();
  globalThis.__REACT_DEVTOOLS_GLOBAL_HOOK__ = {
    supportsFiber: true,
    renderers: new Map(),
    inject(renderer) { this.renderers.set(1, renderer); return 1; },
    checkDCE() {},
    onScheduleFiberRoot() {},
    onCommitFiberUnmount() {},
    onPostCommitFiberRoot() {},
    onCommitFiberRoot(_id, root) {
      const now = new Set();
      const commit = { app: false, cards: [], others: 0, numbers: {} };
      const app = root.current.child && root.current.child.child;
      // The counter whose card holds what the component renders (its first element), if any.
      const cardOf = (fiber) => {
        for (let child = fiber.child; child; child = child.child)
          if (child.tag === 5) {
            const card = child.stateNode.closest && child.stateNode.closest('[data-counter]');
            return card ? card.dataset.counter : undefined;
          }
      };
      const walk = (fiber) => {
        for (; fiber; fiber = fiber.sibling) {
          const hooks = fiber.memoizedState;
          if ((fiber.tag === 0 || fiber.tag === 11 || fiber.tag === 15) && hooks) {
            now.add(hooks);
            if (!before.has(hooks)) {
              const card = cardOf(fiber);
              if (fiber === app || fiber.alternate === app) commit.app = true;
              else if (card) commit.cards.push(card);
              else commit.others++;
            }
          }
          walk(fiber.child);
        }
      };
      walk(root.current.child);
      before = now;
      for (const output of document.querySelectorAll('output[aria-label$=" count"]'))
        commit.numbers[output.getAttribute('aria-label').slice(0, -6)] = output.textContent;
      commits.push(commit);
    },
  };
})();`;

/** One of React's commits as `RECORD_RENDERS` saw it. */
export type RenderCommit = {
  app: boolean;
  cards: string[];
  others: number;
  numbers: Record<string, string>;
};

/** The commits `RECORD_RENDERS` recorded in `page` since the last call. */
export function takeCommits(page: Page): Promise<RenderCommit[]> {
  return page.evaluate(() =>
    (globalThis as unknown as { commits: RenderCommit[] }).commits.splice(0),
  );
}
