import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import { addCounter, countOf, expectCount, focusedOn, launchChromium } from '../helpers/browser.ts';

let browser: Browser;
let server: RunningServer;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  server = await serveApp('dist', false);
});
afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await server?.close();
});

/** A fresh browser profile with Tally open. */
async function profile(): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  return page;
}

/** Clicks `button` and answers the file the page downloads: its name and text. */
async function downloaded(page: Page, button: string): Promise<{ name: string; text: string }> {
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: button, exact: true }).click(),
  ]);
  return { name: file.suggestedFilename(), text: readFileSync((await file.path())!, 'utf8') };
}

const choose = (page: Page, name: string, text: string) =>
  page.getByLabel('Import backup', { exact: true }).setInputFiles({
    name,
    mimeType: 'application/json',
    buffer: Buffer.from(text),
  });

async function noSeriousViolations(page: Page): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const serious = (await axeViolations(page)).filter(
      (v) => v.impact === 'serious' || v.impact === 'critical',
    );
    expect({ colorScheme, serious }).toEqual({ colorScheme, serious: [] });
  }
}

it('a backup round trip into a fresh profile, shown before it is added; twice adds nothing', async () => {
  const a = await profile();
  await expect
    .poll(() => a.getByLabel('Where your data lives').textContent())
    .toMatch(/^Your counters live only on this device/);
  await addCounter(a, 'Water');
  await addCounter(a, 'Pages');
  for (let i = 0; i < 3; i++)
    await a.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await a.getByRole('button', { name: 'Add 2 to Pages', exact: true }).click();
  await expectCount(a, 'Water', 3);
  await expectCount(a, 'Pages', 2);

  const backup = await downloaded(a, 'Export backup');
  expect(backup.name).toMatch(/^tally-backup-\d{4}-\d{2}-\d{2}\.json$/);
  const file = JSON.parse(backup.text) as { format: string; version: number; events: unknown[] };
  expect(file).toMatchObject({ format: 'tally-backup', version: 1 });
  expect(file.events).toHaveLength(7);
  const csv = await downloaded(a, 'Export history (CSV)');
  expect(csv.name).toMatch(/\.csv$/);
  expect(csv.text.split('\r\n')[0]).toBe('time,counter,event,detail,value,counter id,device');
  expect(csv.text.trimEnd().split('\r\n')).toHaveLength(8);

  const b = await profile();
  await choose(b, backup.name, backup.text);
  const dialog = b.getByRole('dialog', { name: 'Import backup' });
  await expect.poll(() => dialog.textContent()).toContain('Import 7 changes from this backup?');
  await expect
    .poll(() =>
      dialog
        .getByRole('list', { name: 'What the backup adds' })
        .getByRole('listitem')
        .allTextContents(),
    )
    .toEqual(['Water: 4 changes (new here)', 'Pages: 3 changes (new here)']);
  await noSeriousViolations(b);
  await dialog.getByRole('button', { name: 'Import', exact: true }).click();
  await b.getByText('Imported 7 changes.').waitFor();
  await expectCount(b, 'Water', 3);
  await expectCount(b, 'Pages', 2);
  // The imported counters count on like any other.
  await b.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await expectCount(b, 'Water', 4);

  // The same backup again: everything is here already.
  await choose(b, backup.name, backup.text);
  await expect
    .poll(() => dialog.textContent())
    .toContain('Everything in this backup is here already (7 changes): there is nothing to add.');
  await dialog.getByRole('button', { name: 'OK', exact: true }).click();
  await expectCount(b, 'Water', 4);
  expect(await countOf(b, 'Pages')).toBe(2);
});

it('a damaged file is refused with an alert that says why, and nothing changes', async () => {
  const a = await profile();
  await addCounter(a, 'Water');
  await a.getByRole('button', { name: 'Increment Water', exact: true }).click();
  const backup = await downloaded(a, 'Export backup');
  const file = JSON.parse(backup.text) as { events: { data: Record<string, unknown> }[] };
  file.events[1]!.data = { amount: 'lots' };

  const b = await profile();
  await addCounter(b, 'Kept');
  for (const [text, why] of [
    [JSON.stringify(file), /^Could not import: This backup cannot be imported: event 2 is damaged/],
    ['{"not": "a backup"', /the file is not JSON/],
    ['{"format": "something-else"}', /it has no "format": "tally-backup"/],
  ] as const) {
    await choose(b, 'backup.json', text);
    await b.getByRole('alert').filter({ hasText: why }).waitFor();
    await expect.poll(() => b.getByRole('dialog', { name: 'Import backup' }).count()).toBe(0);
  }
  await noSeriousViolations(b);
  await expect.poll(() => b.getByRole('heading', { level: 2 }).allTextContents()).toEqual(['Kept']);
  await expectCount(b, 'Kept', 0);
});

it('with the keyboard alone: Escape cancels an import, Import and Dismiss hand focus on; the file button follows the dark scheme', async () => {
  const a = await profile();
  await addCounter(a, 'Water');
  const backup = await downloaded(a, 'Export backup');

  const b = await profile();
  const dialog = b.getByRole('dialog', { name: 'Import backup' });
  // Escape answers no: nothing is imported, and focus is back on the file field.
  const onFileField = () =>
    b.evaluate(() => document.activeElement?.matches('input[type=file]') ?? false);
  await choose(b, backup.name, backup.text);
  await dialog.waitFor();
  await expect.poll(() => b.evaluate(() => document.activeElement?.role)).toBe('dialog');
  await b.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await expect.poll(onFileField).toBe(true);
  expect(await b.getByLabel('Water count', { exact: true }).count()).toBe(0);
  // Imported with Enter: the dialog goes, focus goes back to the file field.
  await choose(b, backup.name, backup.text);
  await dialog.getByRole('button', { name: 'Import', exact: true }).focus();
  await b.keyboard.press('Enter');
  await b.getByText('Imported 1 change.').waitFor();
  await expectCount(b, 'Water', 0);
  await expect.poll(onFileField).toBe(true);

  // A message dismissed with its ×: focus goes to the counter's name field above it.
  await choose(b, 'backup.json', '{"not": "a backup"');
  const alert = b.locator('main > [role=alert]');
  await alert.filter({ hasText: /the file is not JSON/ }).waitFor();
  await alert.getByRole('button', { name: 'Dismiss message', exact: true }).focus();
  await b.keyboard.press('Enter');
  await alert.filter({ hasText: /./ }).waitFor({ state: 'detached' });
  await expect.poll(() => focusedOn(b)).toBe('Counter name');

  // In the dark, the browser's own "Choose File" button is drawn as the page's buttons are,
  // not in the browser's grey.
  await b.emulateMedia({ colorScheme: 'dark' });
  const colours = await b.evaluate(() => {
    const file = document.querySelector<HTMLInputElement>('input[type=file]')!;
    const button = [...document.querySelectorAll('button')].find(
      (each) => each.textContent === 'Export backup',
    )!;
    const chooser = getComputedStyle(file, '::file-selector-button');
    return {
      scheme: getComputedStyle(document.documentElement).colorScheme,
      chooser: [chooser.backgroundColor, chooser.color],
      button: [getComputedStyle(button).backgroundColor, getComputedStyle(button).color],
    };
  });
  expect(colours.scheme).toBe('light dark');
  expect(colours.chooser).toEqual(colours.button);
  await noSeriousViolations(b);
});
