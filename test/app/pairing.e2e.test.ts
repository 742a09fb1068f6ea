import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { syncedAppFixture } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import { addCounter, expectCount } from '../helpers/browser.ts';

const app = syncedAppFixture();

async function device(url = app.server.url): Promise<Page> {
  const context = await app.newContext();
  const page = await context.newPage();
  // "Leave space" asks with the browser's own confirm: the person says yes.
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  return page;
}

const status = (page: Page) => page.getByRole('status', { name: 'Sync status' });
const waitSynced = (page: Page) =>
  status(page)
    .filter({ hasText: /^Synced$/ })
    .waitFor({ timeout: 30_000 });

async function count(page: Page, name: string, times: number) {
  await addCounter(page, name);
  const button = page.getByRole('button', { name: `Increment ${name}`, exact: true });
  for (let i = 0; i < times; i++) await button.click();
  await expectCount(page, name, times);
}

/** Every counter a page shows, `name = value`, sorted (runs in the page). */
function shownInPage(): string[] {
  const list = document.querySelector('ul[aria-label="Counters"]');
  return [...(list?.querySelectorAll(':scope > li') ?? [])]
    .map(
      (card) =>
        `${card.querySelector('h2')?.textContent} = ${card.querySelector('output')?.textContent}`,
    )
    .sort();
}

async function showsExactly(page: Page, expected: string[]) {
  await page
    .waitForFunction(
      (want) => {
        const list = document.querySelector('ul[aria-label="Counters"]');
        const now = [...(list?.querySelectorAll(':scope > li') ?? [])]
          .map(
            (card) =>
              `${card.querySelector('h2')?.textContent} = ${card.querySelector('output')?.textContent}`,
          )
          .sort();
        return JSON.stringify(now) === want;
      },
      JSON.stringify(expected),
      { timeout: 30_000 },
    )
    .catch(async (error: Error) => {
      const now = await page.evaluate(shownInPage);
      throw new Error(`Expected ${expected.join(', ')}; the page shows ${now.join(', ')}`, {
        cause: error,
      });
    });
}

it('two devices that already count the same thing pair, and no count is lost; a new space gets everything; Leave and join keeps a device in its space until the invite is accepted', async () => {
  const a = await device();
  await count(a, 'Water', 2);
  await count(a, 'Pages', 1);
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await waitSynced(a);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();

  const b = await device();
  await count(b, 'water', 3);
  await count(b, 'Tea', 1);
  // The link pasted into a tab that already shows Tally: only the hash changes.
  await b.evaluate((hash) => (location.hash = hash), new URL(link).hash);
  const invite = b.getByRole('dialog', { name: 'Join a space' });
  await expect
    .poll(() => invite.textContent())
    .toContain('2 counters, with every count, will be shared');
  expect(await invite.textContent()).toContain('both kept');
  // The dialog takes focus, and passes axe.
  expect(await b.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('dialog');
  for (const colorScheme of ['light', 'dark'] as const) {
    await b.emulateMedia({ colorScheme });
    const serious = (await axeViolations(b)).filter(
      (v) => v.impact === 'serious' || v.impact === 'critical',
    );
    expect({ colorScheme, serious }).toEqual({ colorScheme, serious: [] });
  }
  await b.emulateMedia({ colorScheme: 'light' });
  await invite.getByRole('button', { name: 'Join space', exact: true }).click();
  await Promise.all([waitSynced(a), waitSynced(b)]);

  // Both counters of one name stay, each with its count; the later one is renamed everywhere.
  const everything = ['Pages = 1', 'Tea = 1', 'Water = 2', 'water (2) = 3'];
  await showsExactly(a, everything);
  await showsExactly(b, everything);
  await expect.poll(() => b.getByRole('list', { name: 'Rejected after sync' }).count()).toBe(0);

  // The same link again: this device is told it is already there.
  await b.evaluate((hash) => (location.hash = hash), new URL(link).hash);
  await expect.poll(() => invite.textContent()).toContain('already syncs with space');
  await invite.getByRole('button', { name: 'OK', exact: true }).click();

  // a leaves and starts a new space; a third device joins it and sees everything a showed.
  await a.getByRole('button', { name: 'Leave space', exact: true }).click();
  await status(a)
    .filter({ hasText: /^Not syncing$/ })
    .waitFor();
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await waitSynced(a);
  const second = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  expect(second).not.toBe(link);
  const c = await device(second);
  await c
    .getByRole('dialog', { name: 'Join a space' })
    .getByRole('button', { name: 'Join space' })
    .click();
  await waitSynced(c);
  await showsExactly(c, everything);

  // b, still in the first space, opens the second space's link, which c has used: "Leave and
  // join" is refused and b stays where it was, still syncing there.
  await b.evaluate((hash) => (location.hash = hash), new URL(second).hash);
  await expect.poll(() => invite.textContent()).toContain('syncs with another space now');
  await invite.getByRole('button', { name: 'Leave and join', exact: true }).click();
  await b
    .locator('main > [role=alert]')
    .filter({ hasText: /^Could not join: / })
    .waitFor();
  await waitSynced(b);
  await b
    .getByRole('button', { name: 'Start syncing', exact: true })
    .waitFor({ state: 'detached' });
  await invite.getByRole('button', { name: 'Cancel', exact: true }).click();
  await b.getByRole('button', { name: 'Increment Tea', exact: true }).click();
  await waitSynced(b);
  const firstSpace = ['Pages = 1', 'Tea = 2', 'Water = 2', 'water (2) = 3'];
  await showsExactly(b, firstSpace);

  // With a fresh invite from a, b leaves the first space and joins the second: what it counted
  // in the first one goes with it, and both devices show the same.
  await a.getByRole('button', { name: 'Pair a device', exact: true }).click();
  const fresh = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  expect(fresh).not.toBe(second);
  await b.evaluate((hash) => (location.hash = hash), new URL(fresh).hash);
  await invite.getByRole('button', { name: 'Leave and join', exact: true }).click();
  await invite.waitFor({ state: 'detached' });
  await Promise.all([waitSynced(a), waitSynced(b)]);
  await showsExactly(a, firstSpace);
  await showsExactly(b, firstSpace);
  await showsExactly(c, firstSpace);
});
