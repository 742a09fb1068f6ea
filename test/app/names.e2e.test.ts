import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import { addCounter, launchChromium, openMore } from '../helpers/browser.ts';

let browser: Browser;
let server: RunningServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), serveApp()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const help = (page: Page) => page.locator('#counter-name-help');

it('names: the limit shows as you type, nothing is cut silently, errors are sentences, focus returns after a rename', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url);
  const input = page.getByLabel('Counter name', { exact: true });
  await input.waitFor();
  const add = page.getByRole('button', { name: 'Add counter', exact: true });

  await input.fill('x'.repeat(500));
  // Nothing was cut: all 500 are in the field, and the count says so.
  await expect.poll(() => input.inputValue()).toHaveLength(500);
  await expect.poll(() => help(page).textContent()).toBe('500/60');
  await add.click();
  await expect
    .poll(() => help(page).textContent())
    .toBe('A counter name is at most 60 characters.');

  for (const [typed, sentence] of [
    ['   ', 'A counter needs a name.'],
    ['\u200B\u200B', 'A counter name needs a visible character.'],
  ] as const) {
    await input.fill(typed);
    await add.click();
    await expect.poll(() => help(page).textContent()).toBe(sentence);
  }
  await expect.poll(() => page.getByRole('list', { name: 'Counters' }).count()).toBe(0);

  await input.fill('  Morning   tea ');
  await expect.poll(() => help(page).textContent()).toBe('11/60');
  await add.click();
  await page.getByLabel('Morning tea count', { exact: true }).waitFor();

  // Rename with the keyboard; after saving, focus is back on the Rename button.
  await addCounter(page, 'Laps');
  await openMore(page, 'Laps');
  await page.getByRole('button', { name: 'Rename Laps', exact: true }).click();
  await page.getByLabel('New name for Laps', { exact: true }).fill('Pool laps');
  await page.keyboard.press('Enter');
  await page.getByLabel('Pool laps count', { exact: true }).waitFor();
  await page.waitForFunction(
    () => document.activeElement?.getAttribute('aria-label') === 'Rename Pool laps',
  );
  await context.close();
});
