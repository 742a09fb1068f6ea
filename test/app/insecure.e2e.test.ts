import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import { launchChromium } from '../helpers/browser.ts';

let browser: Browser;
let server: RunningServer;

beforeAll(async () => {
  server = await serveApp();
  // A name that is not loopback to the browser (so not a secure context), resolved to loopback.
  browser = await launchChromium(['--host-resolver-rules=MAP tally.test 127.0.0.1']);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('on an insecure origin says, in words, that it needs a secure connection, and touches no storage', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`http://tally.test:${server.port}/`);
  const alert = page.getByRole('alert', { name: 'Secure connection needed' });
  await alert.waitFor();
  expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
  const text = await alert.textContent();
  expect(text).toContain('Tally needs a secure connection');
  expect(text).toContain('TALLY_TLS_CERT');
  expect(text).toContain(`https://tally.test:${server.port}`);
  expect(errors).toEqual([]);
  // Nothing of Tally's storage was opened: no database, no service worker.
  expect(await page.evaluate(() => indexedDB.databases())).toEqual([]);
  expect(await page.evaluate(() => 'serviceWorker' in navigator)).toBe(false);
  await context.close();
});
