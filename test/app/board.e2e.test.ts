import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import { addCounter, launchChromium, openMore } from '../helpers/browser.ts';
import { waitFor } from '../server/fixtures.ts';

let browser: Browser;
let server: RunningServer;
let context: BrowserContext;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), serveApp()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});
afterEach(async () => {
  await context?.close();
});

async function openTab(init?: string): Promise<Page> {
  const page = await context.newPage();
  if (init) await page.addInitScript(init);
  await page.goto(server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  return page;
}

/** The counters' names in the order the page shows them. */
const shown = (page: Page) =>
  page
    .getByRole('list', { name: 'Counters', exact: true })
    .locator(':scope > li h2')
    .allTextContents();

const showsOrder = (page: Page, order: string[]) =>
  waitFor(
    async () => JSON.stringify(await shown(page)) === JSON.stringify(order),
    `the page to show ${order.join(', ')}`,
    20_000,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}; it shows ${(await shown(page)).join(', ')}`, {
      cause: error,
    });
  });

describe('the board: the order counters are shown in', () => {
  it('moves with the keyboard, is the same in every tab, and survives reloading', async () => {
    context = await browser.newContext();
    const [a, b] = [await openTab(), await openTab()];
    for (const name of ['Water', 'Pages', 'Push-ups']) await addCounter(a, name);
    await showsOrder(b, ['Water', 'Pages', 'Push-ups']);
    // Moving is in each card's "More" panel.
    for (const name of ['Water', 'Push-ups']) await openMore(a, name);
    await openMore(b, 'Water');
    // The first cannot go up, the last cannot go down.
    expect(await a.getByRole('button', { name: 'Move Water up', exact: true }).isDisabled()).toBe(
      true,
    );
    expect(
      await a.getByRole('button', { name: 'Move Push-ups down', exact: true }).isDisabled(),
    ).toBe(true);

    // Keyboard only: focus the button and press Enter, twice; focus stays with the counter.
    await a.getByRole('button', { name: 'Move Push-ups up', exact: true }).focus();
    await a.keyboard.press('Enter');
    await showsOrder(a, ['Water', 'Push-ups', 'Pages']);
    await waitFor(
      () =>
        a.evaluate(() => document.activeElement?.getAttribute('aria-label') === 'Move Push-ups up'),
      'focus to stay on Move Push-ups up',
    );
    await a.keyboard.press('Enter');
    await showsOrder(a, ['Push-ups', 'Water', 'Pages']);
    // At the top, "up" is disabled: focus moves to its other button, not to the page.
    await waitFor(
      () =>
        a.evaluate(
          () => document.activeElement?.getAttribute('aria-label') === 'Move Push-ups down',
        ),
      'focus to move to Move Push-ups down',
    );
    await showsOrder(b, ['Push-ups', 'Water', 'Pages']);
    await b.getByRole('button', { name: 'Move Water down', exact: true }).click();
    await showsOrder(a, ['Push-ups', 'Pages', 'Water']);

    await b.reload();
    await showsOrder(b, ['Push-ups', 'Pages', 'Water']);
    // A counter added later joins the end of the order everywhere.
    await addCounter(b, 'Tea');
    await showsOrder(a, ['Push-ups', 'Pages', 'Water', 'Tea']);

    // Where a pointer is available, a card dropped on another takes its place.
    await a
      .locator('[data-counter]', { hasText: 'Tea' })
      .dragTo(a.locator('[data-counter]', { hasText: 'Push-ups' }));
    await showsOrder(a, ['Tea', 'Push-ups', 'Pages', 'Water']);
    await showsOrder(b, ['Tea', 'Push-ups', 'Pages', 'Water']);

    // With a history open too.
    await openMore(a, 'Water');
    await a.getByRole('button', { name: 'History of Water', exact: true }).click();
    await a.getByRole('img', { name: 'Water per day' }).waitFor();
    for (const colorScheme of ['light', 'dark'] as const) {
      await a.emulateMedia({ colorScheme });
      const serious = (await axeViolations(a)).filter(
        (v) => v.impact === 'serious' || v.impact === 'critical',
      );
      expect({ colorScheme, serious }).toEqual({ colorScheme, serious: [] });
    }
  });

  it('works through the leader tab without SharedWorker, the rows checked on the way', async () => {
    context = await browser.newContext();
    const init = 'delete globalThis.SharedWorker;';
    const leader = await openTab(init);
    const follower = await openTab(init);
    for (const name of ['One', 'Two']) await addCounter(leader, name);
    await showsOrder(follower, ['One', 'Two']);
    await openMore(follower, 'Two');
    await follower.getByRole('button', { name: 'Move Two up', exact: true }).click();
    await showsOrder(leader, ['Two', 'One']);
    await showsOrder(follower, ['Two', 'One']);
  });
});
