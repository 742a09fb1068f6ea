import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Route } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import { launchChromium } from '../helpers/browser.ts';

let browser: Browser;
let server: RunningServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), serveApp()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** The UI's chunk (app/start.tsx): what app/main.ts imports once it has started the engine. */
const uiChunk = /\/assets\/start-[\w-]+\.js$/;

it('starts the engine while the UI is still loading, then shows the list', async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  // The UI's script is held back until the test lets it go.
  const held: Route[] = [];
  await context.route(uiChunk, (route) => void held.push(route));
  const page = await context.newPage();
  await page.goto(server.url);
  await expect.poll(() => held.length).toBeGreaterThan(0);
  // The engine opened its database and answers, with no UI code run yet.
  const info = await page.evaluate(() =>
    (globalThis as unknown as { tally: { info(): Promise<{ host: string }> } }).tally.info(),
  );
  expect(info.host).toBe('shared-worker');
  expect(await page.locator('#root').innerHTML()).toBe('');
  for (const route of held.splice(0)) await route.continue();
  await page.getByRole('heading', { name: 'Tally', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'Add counter' }).waitFor();
  await context.close();
});

it('says in words when the UI cannot be loaded, and the engine keeps what it holds', async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  // A first start stores a counter.
  await page.goto(server.url);
  await page.getByRole('button', { name: 'Add counter' }).waitFor();
  const created = await page.evaluate(() =>
    (
      globalThis as unknown as {
        tally: { execute(stream: string, command: object): Promise<{ type: string }> };
      }
    ).tally.execute(`counter-${crypto.randomUUID()}`, { type: 'create', name: 'Water' }),
  );
  expect(created.type).toBe('accepted');
  // Then the network drops the UI's script (an update half-fetched, a flaky connection).
  await context.route(uiChunk, (route) => route.abort('failed'));
  await page.reload();
  await expect
    .poll(() => page.getByRole('alert').textContent())
    .toBe('Tally could not load. Check your connection, then reload the page.');
  // Loaded again, everything is there.
  await context.unroute(uiChunk);
  await page.reload();
  await expect.poll(() => page.getByRole('heading', { name: 'Water' }).count()).toBe(1);
  await context.close();
});

it('counts on, and says why sync is off, when the sync code cannot be loaded', async () => {
  // A deployment missing the engine's sync chunk (a half-copied update, the network gone while
  // it was fetched): served from a copy of the build without it.
  const dir = mkdtempSync(join(tmpdir(), 'tally-no-sync-'));
  cpSync('dist', dir, { recursive: true });
  const chunk = readdirSync(join(dir, 'assets')).find((file) =>
    /^sync-code-[\w-]+\.js$/.test(file),
  );
  expect(chunk).toBeDefined();
  rmSync(join(dir, 'assets', chunk!));
  const partial = await serveApp(dir);
  const context = await browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    await page.goto(partial.url);
    await page.getByText('Not syncing · Sync could not be loaded.', { exact: false }).waitFor();
    // Counting works meanwhile.
    await page.getByLabel('Counter name', { exact: true }).fill('Water');
    await page.getByRole('button', { name: 'Add counter', exact: true }).click();
    await page.getByRole('button', { name: 'Increment Water', exact: true }).click();
    await expect
      .poll(() => page.getByLabel('Water count', { exact: true }).textContent())
      .toBe('1');
    // Deleting forever would reach this device only: refused, in words.
    const refused = await page.evaluate(async () => {
      const { tally } = globalThis as unknown as {
        tally: {
          viewRows(view: string): ReadonlyMap<string, { name: string }> | undefined;
          deleteForever(stream: string): Promise<unknown>;
        };
      };
      const [id] = [...(tally.viewRows('counters') ?? new Map()).keys()];
      return tally.deleteForever(id).then(
        () => 'deleted',
        (error: Error) => error.message,
      );
    });
    expect(refused).toContain('Sync could not be loaded');
    expect(await page.getByLabel('Water count', { exact: true }).textContent()).toBe('1');
  } finally {
    await context.close();
    await partial.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
