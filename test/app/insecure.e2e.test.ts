import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import { expectNoSeriousViolations } from '../helpers/axe.ts';
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

/**
 * The scripts that start Tally's engine or storage: the SharedWorker, the leader-tab fallback
 * and its dedicated worker, the service worker and what it imports.
 */
const engineScripts =
  /\/assets\/(shared-worker|leader-client|dedicated-worker)-[\w-]+\.js$|\/sw(-leader)?\.js$/;

/** Every request of the context (its pages and workers), from before the first navigation. */
function recordRequests(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on('request', (request) => urls.push(new URL(request.url()).pathname));
  return urls;
}

it('on an insecure origin says, in words, that it needs a secure connection, and touches no storage', async () => {
  const context = await browser.newContext();
  const requested = recordRequests(context);
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
  // Nothing of Tally's storage was opened: no database, nothing kept in Web Storage (the long
  // list's hints live in localStorage on a secure origin), and no script that would start the
  // engine or a service worker was even fetched. (The browser has no navigator.serviceWorker
  // here at all, so that alone would prove nothing.)
  expect(await page.evaluate(() => indexedDB.databases())).toEqual([]);
  expect(
    await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length })),
  ).toEqual({ local: 0, session: 0 });
  // The UI's chunk loads once the alert shows; the page is then done asking.
  await page.waitForLoadState('networkidle');
  expect(requested.filter((path) => engineScripts.test(path))).toEqual([]);
  // What it says is readable in either scheme.
  await expectNoSeriousViolations(page);
  await context.close();
});

it('the same build on a secure origin does fetch the engine and service worker scripts (so the request record above can see them)', async () => {
  const context = await browser.newContext();
  const requested = recordRequests(context);
  const page = await context.newPage();
  await page.goto(server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
  await expect
    .poll(() =>
      [
        ...new Set(
          requested
            .filter((path) => engineScripts.test(path))
            .map((path) => path.replace(/^\/assets\/([a-z]+-[a-z]+)-.*\.js$/, '/assets/$1.js')),
        ),
      ].sort(),
    )
    .toEqual(['/assets/shared-worker.js', '/sw-leader.js', '/sw.js']);
  expect(await page.evaluate(() => indexedDB.databases())).not.toEqual([]);
  await context.close();
});
