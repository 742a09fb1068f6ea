import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { syncedAppFixture } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import { acceptJoin, addCounter, expectCount, openMore } from '../helpers/browser.ts';

const app = syncedAppFixture();

async function device(url = app.server.url): Promise<Page> {
  const context = await app.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  return page;
}

const synced = (page: Page) =>
  page
    .getByRole('status', { name: 'Sync status' })
    .filter({ hasText: /^Synced$/ })
    .waitFor({ timeout: 30_000 });

const card = (page: Page, name: string) => page.getByRole('heading', { name, exact: true });
const archivedList = (page: Page) => page.getByRole('list', { name: 'Archived counters' });
/** Opens the archive (the disclosure), if it is closed. */
async function openArchive(page: Page): Promise<void> {
  const toggle = page.getByRole('button', { name: 'Archived counters' });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
}

async function noSeriousViolations(page: Page): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const serious = (await axeViolations(page)).filter(
      (v) => v.impact === 'serious' || v.impact === 'critical',
    );
    expect({ colorScheme, serious }).toEqual({ colorScheme, serious: [] });
  }
}

it('archive on one device, restore on the other; delete forever reaches both', async () => {
  const a = await device();
  await addCounter(a, 'Water');
  await addCounter(a, 'Pages');
  for (let i = 0; i < 3; i++)
    await a.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await expectCount(a, 'Water', 3);
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await synced(a);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  const b = await device(link);
  await acceptJoin(b);
  await expectCount(b, 'Water', 3);

  // Archived on A: out of both lists, into both archives.
  await openMore(a, 'Water');
  await a.getByRole('button', { name: 'Archive Water', exact: true }).click();
  await card(a, 'Water').waitFor({ state: 'detached' });
  // Focus follows the counter to the archive, not to the page.
  await a.waitForFunction(() => document.activeElement?.hasAttribute('data-archive-toggle'));
  await card(b, 'Water').waitFor({ state: 'detached' });
  await openArchive(b);
  await archivedList(b).getByText('Water', { exact: true }).waitFor();
  await expect.poll(() => b.getByRole('button', { name: 'Increment Water' }).count()).toBe(0);
  // Its name stays reserved, and the page says where the counter is.
  await b.getByLabel('Counter name', { exact: true }).fill('water');
  await b.getByRole('button', { name: 'Add counter', exact: true }).click();
  await expect
    .poll(() => b.locator('main > [role=alert]').textContent())
    .toContain(
      'There is already a counter named “water” in your archived counters: restore it, or delete it forever to free the name.',
    );
  await b.getByLabel('Counter name', { exact: true }).fill('');
  await noSeriousViolations(b);

  // Restored on B, with its count, on both.
  await b.getByRole('button', { name: 'Restore Water', exact: true }).click();
  await expectCount(b, 'Water', 3);
  // And back to its card.
  await b.waitForFunction(
    () => document.activeElement?.getAttribute('aria-label') === 'More for Water',
  );
  await expectCount(a, 'Water', 3);

  // Archived again and deleted forever from A, after a confirmation.
  await openMore(a, 'Water');
  await a.getByRole('button', { name: 'Archive Water', exact: true }).click();
  await synced(a);
  await openArchive(a);
  await a.getByRole('button', { name: 'Delete Water forever', exact: true }).click();
  const dialog = a.getByRole('dialog', { name: 'Delete Water forever' });
  await expect.poll(() => dialog.textContent()).toContain('This cannot be undone.');
  await noSeriousViolations(a);
  // Cancel deletes nothing.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await archivedList(a).getByText('Water', { exact: true }).waitFor();
  await a.getByRole('button', { name: 'Delete Water forever', exact: true }).click();
  await dialog.getByRole('button', { name: 'Delete forever' }).click();
  await a.getByText('“Water” was deleted forever.').waitFor();
  await openArchive(b);
  await b.getByText('No archived counters.').waitFor();
  await a.getByText('No archived counters.').waitFor();
  await expectCount(b, 'Pages', 0);
  // The name is free again.
  await addCounter(b, 'Water');
  await expectCount(a, 'Water', 0);
});

it('joining says its archived counters go along too, and they do', async () => {
  const a = await device();
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await synced(a);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  const b = await device();
  await addCounter(b, 'Tea');
  await addCounter(b, 'Milk');
  await b.getByRole('button', { name: 'Increment Milk', exact: true }).click();
  await expectCount(b, 'Milk', 1);
  await openMore(b, 'Milk');
  await b.getByRole('button', { name: 'Archive Milk', exact: true }).click();
  await card(b, 'Milk').waitFor({ state: 'detached' });
  // The link opened in the tab that shows Tally: only the hash changes.
  await b.evaluate((url) => (location.href = url), link);
  const dialog = b.getByRole('dialog', { name: 'Join a space' });
  await expect
    .poll(() => dialog.textContent())
    .toContain('Its 2 counters (1 of them archived), with every count, will be shared');
  await dialog.getByRole('button', { name: 'Join space' }).click();
  await synced(b);
  await openArchive(a);
  await archivedList(a).getByText('Milk').waitFor();
  await expectCount(a, 'Tea', 0);
});

it('two counters of one name that pairing kept apart merge in one step, every count kept, on both devices', async () => {
  const a = await device();
  await addCounter(a, 'Water');
  for (let i = 0; i < 2; i++)
    await a.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await expectCount(a, 'Water', 2);
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await synced(a);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  const b = await device();
  await addCounter(b, 'water');
  for (let i = 0; i < 3; i++)
    await b.getByRole('button', { name: 'Increment water', exact: true }).click();
  await expectCount(b, 'water', 3);
  await b.evaluate((url) => (location.href = url), link);
  await acceptJoin(b);
  // Both kept: the one made later renamed apart, on both devices.
  await expectCount(b, 'water (2)', 3);
  await expectCount(a, 'water (2)', 3);
  await synced(b);

  // Merged on b after it asks: Water counts both, water (2) goes to the archive, everywhere.
  const asked: string[] = [];
  b.on('dialog', (dialog) => {
    asked.push(dialog.message());
    void dialog.accept();
  });
  await openMore(b, 'water (2)');
  const mergeButton = b.getByRole('button', { name: 'Merge water (2) into Water', exact: true });
  // Not while its changes may not be through: merged on two devices offline, the count would be
  // added twice. It says why, asks nothing, and changes nothing.
  await b.context().setOffline(true);
  await b
    .getByRole('status', { name: 'Sync status' })
    .filter({ hasText: /^Offline/ })
    .waitFor();
  await mergeButton.click();
  await b.getByRole('alert').filter({ hasText: 'Merging needs this device synced' }).waitFor();
  expect(asked).toEqual([]);
  await expectCount(b, 'water (2)', 3);
  await b.context().setOffline(false);
  await synced(b);
  await mergeButton.click();
  await expectCount(b, 'Water', 5);
  expect(asked).toEqual([
    'Add the 3 counted in “water (2)” to “Water”, and archive “water (2)” at 0?',
  ]);
  await card(b, 'water (2)').waitFor({ state: 'detached' });
  await expect
    .poll(() => b.evaluate(() => document.activeElement?.getAttribute('aria-label')))
    .toBe('Increment Water');
  await expectCount(a, 'Water', 5);
  await card(a, 'water (2)').waitFor({ state: 'detached' });
  await openArchive(a);
  await archivedList(a).getByText('water (2)').waitFor();
  // Restored, it brings back 0: its count is in Water, counted once.
  await archivedList(a).getByRole('button', { name: 'Restore water (2)', exact: true }).click();
  await expectCount(a, 'water (2)', 0);
  await expectCount(a, 'Water', 5);
  // A counter with no twin offers no merge.
  await openMore(a, 'Water');
  expect(await a.getByRole('button', { name: /^Merge / }).count()).toBe(0);
  await noSeriousViolations(b);
});
