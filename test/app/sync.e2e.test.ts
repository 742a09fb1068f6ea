import type { BrowserContext, Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { syncedAppFixture } from '../helpers/app-server.ts';
import { expectNoSeriousViolations } from '../helpers/axe.ts';
import {
  addCounter,
  countOf,
  expectCount,
  historyOf,
  RECORD_RENDERS,
  takeCommits,
} from '../helpers/browser.ts';

const app = syncedAppFixture();

/** A device: its own browser profile, the app loaded and controlled by its service worker. */
async function device(url = app.server.url): Promise<{ context: BrowserContext; page: Page }> {
  const context = await app.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, {
    timeout: 30_000,
  });
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  return { context, page };
}

const status = (page: Page) => page.getByRole('status', { name: 'Sync status' });
const waitSynced = (page: Page, timeout = 30_000) =>
  status(page)
    .filter({ hasText: /^Synced$/ })
    .waitFor({ timeout });

async function click(page: Page, label: string, times = 1): Promise<void> {
  const button = page.getByRole('button', { name: label, exact: true });
  await button.waitFor();
  for (let i = 0; i < times; i++) await button.click({ force: true });
}

it('two devices pair, work offline, and converge; a decrement both made at 1 is rejected once', async () => {
  const a = await device();
  await status(a.page).filter({ hasText: 'Not syncing' }).waitFor();
  await addCounter(a.page, 'Steps');
  await addCounter(a.page, 'Tea');
  await click(a.page, 'Increment Tea');
  await a.page.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await waitSynced(a.page);
  const link = await a.page.getByLabel('Pairing link', { exact: true }).inputValue();
  expect(link).toMatch(new RegExp(`^${app.server.url}/#pair=`));

  const b = await device(link);
  expect(b.page.url()).not.toContain('#pair='); // the token leaves the address bar
  // A link alone never joins: the person is asked first.
  const invite = b.page.getByRole('dialog', { name: 'Join a space' });
  await expect.poll(() => invite.textContent()).toContain('will be shared');
  await status(b.page).filter({ hasText: 'Not syncing' }).waitFor();
  await invite.getByRole('button', { name: 'Join space' }).click();
  await waitSynced(b.page);
  await invite.waitFor({ state: 'detached' });
  await expectCount(b.page, 'Tea', 1);
  await expectCount(b.page, 'Steps', 0);
  // Live: a change on one device shows up on the other.
  await click(b.page, 'Increment Steps', 2);
  await expectCount(a.page, 'Steps', 2);

  // Both devices lose the server.
  await Promise.all([a.context.setOffline(true), b.context.setOffline(true)]);
  const port = app.server.port;
  await app.server.close();
  await Promise.all(
    [a.page, b.page].map((page) =>
      status(page)
        .filter({ hasText: /Offline/ })
        .waitFor({ timeout: 30_000 }),
    ),
  );
  await Promise.all([click(a.page, 'Increment Steps', 50), click(b.page, 'Increment Steps', 50)]);
  await Promise.all([click(a.page, 'Decrement Steps', 3), click(b.page, 'Decrement Steps', 4)]);
  await Promise.all([click(a.page, 'Decrement Tea'), click(b.page, 'Decrement Tea')]);
  await expectCount(a.page, 'Tea', 0);
  await expectCount(b.page, 'Tea', 0);
  await status(a.page)
    .filter({ hasText: /pending/ })
    .waitFor();

  // Back online, on the same address.
  await app.serveAgain(port);
  await Promise.all([a.context.setOffline(false), b.context.setOffline(false)]);
  await Promise.all([waitSynced(a.page, 60_000), waitSynced(b.page, 60_000)]);

  const expected = 2 + 100 - 7;
  await expectCount(a.page, 'Steps', expected);
  await expectCount(b.page, 'Steps', expected);
  await expectCount(a.page, 'Tea', 0);
  await expectCount(b.page, 'Tea', 0);
  // Exactly one of the two decrements of Tea was rejected after sync, and that device says so,
  // on Tea's card.
  const list = { name: 'Not applied to Tea after sync', exact: true };
  const rejectedA = a.page.getByRole('list', list).locator('li');
  const rejectedB = b.page.getByRole('list', list).locator('li');
  expect((await rejectedA.count()) + (await rejectedB.count())).toBe(1);
  const shown = (await rejectedA.count()) === 1 ? rejectedA : rejectedB;
  // The rejected device no longer offers to undo its −1 on Tea (it never happened); the other
  // still does.
  const [loser, winner] = (await rejectedA.count()) === 1 ? [a.page, b.page] : [b.page, a.page];
  await loser.getByRole('status', { name: 'Last change' }).waitFor({ state: 'detached' });
  await expect
    .poll(() => winner.getByRole('status', { name: 'Last change' }).textContent())
    .toContain('−1 on Tea');
  await expect
    .poll(() => shown.textContent())
    .toMatch(/Not applied after sync: .*Tea.*already at zero/);
  // The card with its rejection list is accessible, in either scheme.
  await expectNoSeriousViolations(loser);

  for (const name of ['Steps', 'Tea']) {
    const [ha, hb] = [await historyOf(a.page, name), await historyOf(b.page, name)];
    expect(ha).toEqual(hb);
    expect(ha.map((h) => h.version)).toEqual(Array.from({ length: ha.length }, (_, i) => i + 1));
  }
  expect(await countOf(a.page, 'Steps')).toBe(expected);
});

it('while it syncs, a count renders its number, the sync panel and the offer to undo, not the page', async () => {
  const context = await app.newContext();
  const page = await context.newPage();
  await page.addInitScript(RECORD_RENDERS);
  await page.goto(app.server.url);
  await addCounter(page, 'Water');
  await page.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await waitSynced(page);
  const id = await page
    .getByLabel('Water count', { exact: true })
    .evaluate((output) => output.closest<HTMLElement>('[data-counter]')!.dataset.counter!);
  for (const expected of [1, 2, 3]) {
    await takeCommits(page);
    await click(page, 'Increment Water');
    await expectCount(page, 'Water', expected);
    await page
      .getByRole('status', { name: 'Last change' })
      .filter({ hasText: `was ${expected - 1}` })
      .waitFor();
    // The push went out and was accepted: the sync panel said so (its pending count came and went).
    await waitSynced(page);
    const rendered = await takeCommits(page);
    expect(
      rendered.some((commit) => commit.app),
      `count ${expected}`,
    ).toBe(false);
    // The card's own components only (the number; leaving zero, the card too).
    expect(new Set(rendered.flatMap((commit) => commit.cards))).toEqual(new Set([id]));
  }
});
