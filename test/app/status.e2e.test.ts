import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { startServer } from '../../server/server.ts';
import { syncedAppFixture } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import { addCounter, expectCount } from '../helpers/browser.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

const app = syncedAppFixture();

const pill = (page: Page) => page.getByLabel('Network status', { exact: true });
const status = (page: Page) => page.getByRole('status', { name: 'Sync status' });

it('says the server is unreachable (not "Online"), offers Retry now, and resumes once it is back', async () => {
  const context = await app.newContext();
  const page = await context.newPage();
  await page.goto(app.server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  await addCounter(page, 'Water');
  await page.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await status(page)
    .filter({ hasText: /^Synced$/ })
    .waitFor({ timeout: 30_000 });
  await expect.poll(() => pill(page).textContent()).toBe('Online');

  // The network is up; the sync server is not.
  const port = app.server.port;
  await app.server.close();
  await page.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await expectCount(page, 'Water', 1);
  await pill(page).filter({ hasText: 'Server unreachable' }).waitFor({ timeout: 30_000 });
  await expect.poll(() => status(page).textContent()).toMatch(/^Server unreachable/);
  // What it says is readable in either scheme.
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const serious = (await axeViolations(page)).filter(
      (v) => v.impact === 'serious' || v.impact === 'critical',
    );
    expect({ colorScheme, serious }).toEqual({ colorScheme, serious: [] });
  }
  const retry = page.getByRole('button', { name: 'Retry now', exact: true });
  await retry.click();
  await pill(page).filter({ hasText: 'Server unreachable' }).waitFor();

  // Back on the same address: sync resumes by itself, the count reaches the server.
  await app.serveAgain(port);
  await status(page)
    .filter({ hasText: /^Synced$/ })
    .waitFor({ timeout: 15_000 });
  await expect.poll(() => pill(page).textContent()).toBe('Online');
  await expect.poll(() => retry.count()).toBe(0);
  await context.close();
});

/** What the header's pill and the sync panel's status line say, read together. */
const bothSay = async (page: Page) => ({
  header: await pill(page).textContent(),
  panel: await status(page).textContent(),
});

it('the header and the sync panel say the same: Offline with the network cut, Server unreachable with it back and the server away, then Online and Synced', async () => {
  const context = await app.newContext();
  const page = await context.newPage();
  await page.goto(app.server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  await addCounter(page, 'Water');
  await page.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await expect
    .poll(() => bothSay(page), { timeout: 30_000 })
    .toEqual({
      header: 'Online',
      panel: 'Synced',
    });

  // The network cut: both say Offline, and the panel counts what waits.
  await context.setOffline(true);
  await expect
    .poll(() => bothSay(page), { timeout: 30_000 })
    .toEqual({
      header: 'Offline',
      panel: 'Offline',
    });
  await page.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await expectCount(page, 'Water', 1);
  await expect
    .poll(() => bothSay(page))
    .toEqual({
      header: 'Offline',
      panel: expect.stringMatching(/^Offline · 1 change pending/),
    });
  expect(await page.getByRole('button', { name: 'Retry now', exact: true }).count()).toBe(0);

  // The network back while the sync server is away: neither says Offline (nor Online).
  const port = app.server.port;
  await app.server.close();
  try {
    await context.setOffline(false);
    await expect
      .poll(() => bothSay(page), { timeout: 30_000 })
      .toEqual({
        header: 'Server unreachable',
        panel: expect.stringMatching(/^Server unreachable · 1 change pending/),
      });
  } finally {
    await app.serveAgain(port);
  }
  // The server back: both say so once the count has reached it.
  await expect
    .poll(() => bothSay(page), { timeout: 30_000 })
    .toEqual({
      header: 'Online',
      panel: 'Synced',
    });
  await context.close();
});

it('on a phone, with the server away, the sync card holds its buttons; leaving then is done, said as a notice, and focus goes to Start syncing', async () => {
  const context = await app.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  // "Leave space" asks with the browser's own confirm: the person says yes.
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(app.server.url);
  await addCounter(page, 'Water');
  await page.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await status(page)
    .filter({ hasText: /^Synced$/ })
    .waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Done', exact: true }).click();

  const port = app.server.port;
  await app.server.close();
  try {
    await page.getByRole('button', { name: 'Increment Water', exact: true }).click();
    const retry = page.getByRole('button', { name: 'Retry now', exact: true });
    await retry.waitFor({ timeout: 30_000 });
    // Every button of the card is inside it (they wrap below the status).
    const card = (await page.getByRole('region', { name: 'Sync' }).boundingBox())!;
    for (const name of ['Retry now', 'Leave space']) {
      const box = (await page.getByRole('button', { name, exact: true }).boundingBox())!;
      expect({ name, inside: box.x >= card.x && box.x + box.width <= card.x + card.width }).toEqual(
        { name, inside: true },
      );
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );

    // Left with the keyboard while the server cannot be told: the device is out of the space,
    // which is news, not a failure.
    await page.getByRole('button', { name: 'Leave space', exact: true }).focus();
    await page.keyboard.press('Enter');
    await status(page)
      .filter({ hasText: /^Not syncing$/ })
      .waitFor();
    await expect
      .poll(() => page.getByRole('status', { name: 'Left the space' }).textContent())
      .toMatch(/^Left the space on this device, but the server could not be told/);
    expect(await page.locator('main > [role=alert]').textContent()).toBe('');
    await page.waitForFunction(() => document.activeElement?.textContent === 'Start syncing');
  } finally {
    await app.serveAgain(port);
  }
  await context.close();
});

it('a space the server slows down (429) is waiting, not "unreachable", and offers no Retry now', async () => {
  // A server of its own, whose space limit a few dozen requests reach.
  const redis = await startRedisServer();
  const server = await startServer({
    port: 0,
    redis: redis.url,
    secret: 'test-secret-test-secret-test-secret-0123',
    staticDir: 'dist',
    log: false,
    rateLimit: { perSpacePerMinute: 20 },
  });
  const context = await app.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url);
    await addCounter(page, 'Water');
    await page.getByRole('button', { name: 'Start syncing', exact: true }).click();
    await status(page)
      .filter({ hasText: /^Synced$/ })
      .waitFor({ timeout: 30_000 });
    // Each count is a push, until the space is over its limit.
    const waiting = /^Waiting · \d+ changes? pending · This space is sending too many requests\./;
    const increment = page.getByRole('button', { name: 'Increment Water', exact: true });
    for (let i = 0; i < 200 && !waiting.test((await status(page).textContent()) ?? ''); i++)
      await increment.click();
    await expect.poll(() => status(page).textContent()).toMatch(waiting);
    // The server answers: the network, and the server, are there.
    expect(await pill(page).textContent()).toBe('Online');
    expect(await page.getByRole('button', { name: 'Retry now', exact: true }).count()).toBe(0);
  } finally {
    await context.close();
    await server.close();
    await redis.dispose();
  }
});
