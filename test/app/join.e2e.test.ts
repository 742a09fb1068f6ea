import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { syncedAppFixture } from '../helpers/app-server.ts';
import { waitFor } from '../server/fixtures.ts';
import {
  acceptJoin,
  addCounter,
  expectCount,
  firstScreenAtHead,
  historyOf,
  openMore,
} from '../helpers/browser.ts';

const app = syncedAppFixture();

/** A device: its own browser profile with the app installed (downloads kept, for a backup). */
async function device(url = app.server.url): Promise<Page> {
  const context = await app.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(url);
  // Controlled by its service worker, as an installed app is: what the app loads later (the
  // history panel's code) comes from its cache while the server is away.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, {
    timeout: 30_000,
  });
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  return page;
}

const waitSynced = (page: Page) =>
  page
    .getByRole('status', { name: 'Sync status' })
    .filter({ hasText: /^Synced$/ })
    .waitFor({ timeout: 30_000 });

const click = async (page: Page, label: string, times = 1) => {
  for (let i = 0; i < times; i++)
    await page.getByRole('button', { name: label, exact: true }).click();
};

/** What the page's engine holds below each based counter's snapshot: nothing, until asked. */
const basesOf = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('tally');
        open.onsuccess = () => {
          const count = open.result.transaction('bases').objectStore('bases').count();
          count.onsuccess = () => resolve(count.result);
          count.onerror = () => reject(count.error);
        };
        open.onerror = () => reject(open.error);
      }),
  );

it('a device that joined from snapshots shows every count, reads a history from the server, and says why a backup waits for it', async () => {
  const a = await device();
  await addCounter(a, 'Water');
  await addCounter(a, 'Tea');
  await click(a, 'Increment Water', 3);
  await click(a, 'Increment Tea', 2);
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await waitSynced(a);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();

  const b = await device(link);
  await acceptJoin(b);
  await waitSynced(b);
  await expectCount(b, 'Water', 3);
  await expectCount(b, 'Tea', 2);
  // Both counters came as snapshots: no event of theirs is stored on b.
  expect(await basesOf(b)).toBe(2);

  await waitFor(() => firstScreenAtHead(b, 2), 'the first screen to be kept', 15_000);
  // Opening a history reads what is below the snapshot from the server.
  await expect
    .poll(async () => (await historyOf(b, 'Water')).map((line) => line.value))
    .toEqual([0, 1, 2, 3]);
  expect(await basesOf(b)).toBe(1);
  // Stored below the snapshot, it moved the store's head: the list kept for the next start
  // follows it (a record at the old head would not be shown).
  await waitFor(() => firstScreenAtHead(b, 2), 'the first screen at the new head', 15_000);

  // Without the server, a backup cannot hold Tea's early history: it says so, in words.
  const port = app.server.port;
  await app.server.close();
  await b.getByRole('button', { name: 'Export backup', exact: true }).click();
  await b
    .getByRole('alert')
    .filter({ hasText: 'One counter joined from the sync server keeps its early history there' })
    .waitFor();
  // Its history shows what this device holds, from the value it was joined at.
  await openMore(b, 'Tea');
  await b.getByRole('button', { name: 'History of Tea', exact: true }).click();
  const lines = b.getByRole('group', { name: 'Tea changes, newest first', exact: true });
  await expect
    .poll(() => lines.locator('li .what').allTextContents())
    .toEqual(['Earlier changes are on the sync server']);
  // Its chart does not draw the days before as days when nothing was counted.
  await b
    .getByText(
      /^Counted per day from .+; the days before are on the sync server\. Nothing counted since\.$/,
    )
    .waitFor();
  await app.serveAgain(port);
  await waitSynced(b);
  // In touch again, the history open on Tea reads its early part by itself, its chart too.
  await expect
    .poll(() => lines.locator('li .what').allTextContents())
    .toEqual(['+1', '+1', 'Created as “Tea”']);
  await b.getByText(/^Counted per day, last 30 days\. /).waitFor();
  const [file] = await Promise.all([
    b.waitForEvent('download'),
    b.getByRole('button', { name: 'Export backup', exact: true }).click(),
  ]);
  const backup = JSON.parse(readFileSync((await file.path())!, 'utf8')) as { events: unknown[] };
  // Every event of both counters: 2 creates, 3 + 2 increments.
  expect(backup.events).toHaveLength(7);
  expect(await basesOf(b)).toBe(0);
  // And it keeps counting, both ways.
  await click(b, 'Increment Tea');
  await expectCount(a, 'Tea', 3);
});
