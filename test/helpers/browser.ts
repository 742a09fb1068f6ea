import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function launchOptions() {
  if (!existsSync(chromiumPath))
    throw new Error(
      `Chromium is missing at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH).`,
    );
  return {
    executablePath: chromiumPath,
    headless: true,
    // The machine's network is closed: Chromium's own background traffic only makes noise.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  };
}

/** Debian's Chromium, headless; never a downloaded browser. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch(launchOptions());
}

/**
 * A browser with a real profile on disk, not an incognito-like context: what installing a PWA
 * needs. `dispose()` closes it and removes the profile.
 */
export async function launchProfile(): Promise<BrowserContext & { dispose(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-profile-'));
  const context = await chromium.launchPersistentContext(dir, launchOptions());
  return Object.assign(context, {
    dispose: async () => {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

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

export async function addCounter(page: Page, name: string): Promise<void> {
  await page.getByLabel('Counter name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Add counter', exact: true }).click();
  await expectCount(page, name, 0);
}

/** The versions and values listed in a counter's history panel. */
export async function historyOf(
  page: Page,
  name: string,
): Promise<{ version: number; value: number }[]> {
  const toggle = page.getByRole('button', { name: `History of ${name}`, exact: true });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  const list = page.getByRole('list', { name: `${name} history`, exact: true });
  await list.waitFor();
  return list.locator('li').evaluateAll((items) =>
    items.map((li) => ({
      version: Number(li.getAttribute('data-version')),
      value: Number(li.querySelector('.after')?.textContent),
    })),
  );
}

/** The stream id of the counter named `name`, asked of the page's engine client. */
export function counterIdOf(page: Page, name: string): Promise<string> {
  return page.evaluate(
    (name) =>
      new Promise<string>((resolve, reject) => {
        type Rows = { rows: { id: string; name: string }[] };
        const tally = (
          globalThis as unknown as {
            tally: { subscribe(r: { topic: 'counters' }, cb: (u: Rows) => void): () => void };
          }
        ).tally;
        const stop = tally.subscribe({ topic: 'counters' }, ({ rows }) => {
          stop();
          const row = rows.find((r) => r.name === name);
          if (row) resolve(row.id);
          else reject(new Error(`No counter named ${name}.`));
        });
      }),
    name,
  );
}
