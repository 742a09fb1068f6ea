import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { syncedAppFixture } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import { addCounter, expectCount } from '../helpers/browser.ts';

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
