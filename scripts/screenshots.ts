/**
 * `npm run screenshots`: renews the README's screenshots from the production build (`dist`), with
 * a real redis-server and Debian's Chromium: a desktop in light mode (counters, a history with
 * its chart, pairing) and a phone (390×844) in dark mode.
 */
import type { Page } from 'playwright-core';
import { startServer } from '../server/server.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { startRedisServer } from '../test/helpers/redis-server.ts';

const redis = await startRedisServer();
const server = await startServer({
  port: 0,
  redis: redis.url,
  secret: 'screenshots-secret-screenshots-secret-0123',
  staticDir: 'dist',
  log: false,
});
const browser = await launchChromium();

const press = async (page: Page, name: string, times = 1) => {
  for (let i = 0; i < times; i++) await page.getByRole('button', { name, exact: true }).click();
};

async function fill(page: Page, counts: Record<string, number>) {
  for (const [name, count] of Object.entries(counts)) {
    await page.getByLabel('Counter name', { exact: true }).fill(name);
    await press(page, 'Add counter');
    await page.getByLabel(`${name} count`, { exact: true }).waitFor();
    await press(page, `Increment ${name}`, count);
    await page
      .getByLabel(`${name} count`, { exact: true })
      .filter({ hasText: new RegExp(`^${count}$`) })
      .waitFor();
  }
}

try {
  const desktop = await (
    await browser.newContext({ viewport: { width: 1200, height: 900 } })
  ).newPage();
  await desktop.goto(server.url);
  await fill(desktop, { Water: 5, 'Push-ups': 12, Pages: 3 });
  await press(desktop, 'Add 2 to Pages');
  await press(desktop, 'More for Pages');
  await press(desktop, 'History of Pages');
  await desktop.getByRole('img', { name: 'Pages per day' }).waitFor();
  await press(desktop, 'Start syncing');
  await desktop.getByRole('img', { name: 'Pairing QR code' }).waitFor();
  // The Undo bar floats at the bottom of the window; the page is taken whole without it.
  await desktop.getByRole('status', { name: 'Last change' }).evaluate((bar) => bar.remove());
  await desktop.screenshot({ path: 'docs/screenshot.png', fullPage: true });

  const phone = await (
    await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' })
  ).newPage();
  await phone.goto(server.url);
  await fill(phone, { Water: 6, 'Push-ups': 20, Pages: 14, Coffee: 2, Steps: 9, Meds: 1 });
  await phone
    .locator('[data-counter]')
    .first()
    .evaluate((card) => card.scrollIntoView());
  await phone.screenshot({ path: 'docs/screenshot-phone.png' });
  console.log('docs/screenshot.png, docs/screenshot-phone.png');
} finally {
  await browser.close();
  await server.close();
  await redis.dispose();
}
