import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { syncedAppFixture } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import { acceptJoin, addCounter, expectCount, focusedOn } from '../helpers/browser.ts';

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
  await acceptJoin(c);
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

/** Presses `key` on the button `name` of `within`, reached by focus: no pointer. */
async function press(within: Page | ReturnType<Page['getByRole']>, name: string, key = 'Enter') {
  await within.getByRole('button', { name, exact: true }).focus();
  const page = 'page' in within ? within.page() : within;
  await page.keyboard.press(key);
}

it('with the keyboard alone: focus follows the sync card, Escape cancels, and errors read as sentences', async () => {
  const a = await device();
  await press(a, 'Start syncing');
  await waitSynced(a);
  // Each press that replaces its button hands focus on, never to the page.
  await expect.poll(() => focusedOn(a)).toBe('Pairing link');
  await press(a, 'Done');
  await expect.poll(() => focusedOn(a)).toBe('Pair a device');
  await a.keyboard.press('Enter');
  await expect.poll(() => focusedOn(a)).toBe('Pairing link');
  await press(a, 'Cancel invite');
  await expect.poll(() => focusedOn(a)).toBe('Pair a device');

  // This device's name: spaces alone are no name, said beside the field in a plain sentence.
  const devices = a.getByRole('region', { name: 'Devices' });
  await press(devices, 'Rename');
  await expect.poll(() => focusedOn(a)).toBe('Name of this device');
  await a.keyboard.press('ControlOrMeta+A');
  await a.keyboard.type('   ');
  await a.keyboard.press('Enter');
  const field = devices.getByLabel('Name of this device', { exact: true });
  await expect
    .poll(() =>
      field.evaluate(
        (input) =>
          document.getElementById(input.getAttribute('aria-describedby') ?? '')?.textContent,
      ),
    )
    .toBe('A device needs a name.');
  expect(await field.getAttribute('aria-invalid')).toBe('true');
  expect(await a.locator('main > [role=alert]').textContent()).toBe('');
  // Escape cancels the rename; focus goes back to Rename.
  await a.keyboard.press('Escape');
  await field.waitFor({ state: 'detached' });
  await expect.poll(() => focusedOn(a)).toBe('Rename');

  // A garbled pairing link says so, before anything is asked; Escape closes it, and focus goes
  // to Start syncing.
  const b = await device(`${app.server.url}/#pair=not-a-real-invite`);
  const invite = b.getByRole('dialog', { name: 'Join a space' });
  await expect.poll(() => invite.textContent()).toMatch(/^That is not a Tally pairing link\. /);
  expect(await invite.getByRole('button', { name: /Join/ }).count()).toBe(0);
  await expect.poll(() => focusedOn(b)).toBe('Join a space');
  await b.keyboard.press('Escape');
  await invite.waitFor({ state: 'detached' });
  await expect.poll(() => focusedOn(b)).toBe('Start syncing');
  expect(await b.locator('main > [role=alert]').textContent()).toBe('');
});

/**
 * `a` starts a space, a second device joins it and shows in a's Devices list, then leaves:
 * answers a's list, whose items a is not told about.
 */
async function joinedAndLeft(a: Page) {
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await waitSynced(a);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  const b = await device(link);
  await acceptJoin(b);
  await waitSynced(b);
  const listed = a.getByRole('region', { name: 'Devices' }).getByRole('listitem');
  await expect.poll(() => listed.count(), { timeout: 10_000 }).toBe(2);
  await b.getByRole('button', { name: 'Leave space', exact: true }).click();
  await status(b)
    .filter({ hasText: /^Not syncing/ })
    .waitFor();
  return listed;
}

it('a device that leaves goes from the other devices’ lists without a reload', async () => {
  const a = await device();
  const listed = await joinedAndLeft(a);
  // a is not told; it reads the list again when its window comes back to front (and every
  // minute while it shows the list), at most once every few seconds.
  await expect
    .poll(
      async () => {
        await a.evaluate(() => window.dispatchEvent(new Event('focus')));
        return listed.count();
      },
      { timeout: 20_000, interval: 500 },
    )
    .toBe(1);
});

it('a device list on screen is read again every minute, without focus or a reload', async () => {
  const a = await device();
  // The page's own timers on a clock the test moves (the engine's worker keeps real time).
  await a.clock.install();
  const listed = await joinedAndLeft(a);
  // Nothing tells a: its list stays as it was until the minute has passed.
  expect(await listed.count()).toBe(2);
  await a.clock.fastForward('01:01');
  await expect.poll(() => listed.count(), { timeout: 10_000 }).toBe(1);
});
