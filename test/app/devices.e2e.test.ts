import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { syncedAppFixture } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import { acceptJoin, addCounter, expectCount } from '../helpers/browser.ts';

const app = syncedAppFixture();

/** What each page's next confirmation is answered, and the messages it asked. */
const answers = new WeakMap<Page, { accept: boolean; asked: string[] }>();

async function device(url = app.server.url): Promise<Page> {
  const context = await app.newContext();
  const page = await context.newPage();
  const answer = { accept: true, asked: [] as string[] };
  answers.set(page, answer);
  page.on('dialog', (dialog) => {
    answer.asked.push(dialog.message());
    void (answer.accept ? dialog.accept() : dialog.dismiss());
  });
  await page.goto(url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  return page;
}

const status = (page: Page) => page.getByRole('status', { name: 'Sync status' });
const waitSynced = (page: Page) =>
  status(page)
    .filter({ hasText: /^Synced$/ })
    .waitFor({ timeout: 30_000 });

/** What the rendered QR code says, read from its pixels as a phone's camera would. */
async function readQr(page: Page): Promise<string> {
  const image = page.getByRole('img', { name: 'Pairing QR code', exact: true });
  await image.waitFor();
  const png = PNG.sync.read(await image.screenshot());
  const code = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  if (!code) throw new Error('The QR code could not be read.');
  return code.data;
}

it('pairs through the QR code, refuses a used invite, renames itself, and removes a device after asking', async () => {
  const a = await device();
  await addCounter(a, 'Pages');
  // The QR code's library loads only when a person asks to pair.
  const qrLoaded = () =>
    a.evaluate(() =>
      performance.getEntriesByType('resource').some((e) => e.name.includes('/assets/qrcode-')),
    );
  expect(await qrLoaded()).toBe(false);
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await waitSynced(a);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  // The QR code is exactly the link; the panel says how long it works, and that a loopback
  // address works only on this computer.
  expect(await readQr(a)).toBe(link);
  expect(await qrLoaded()).toBe(true);
  await expect
    .poll(() => a.getByRole('status', { name: 'Invite expiry' }).textContent())
    .toMatch(/works once, for 1[45]:\d\d more/);
  await expect.poll(() => a.getByText('works only on this computer').count()).toBe(1);
  for (const colorScheme of ['light', 'dark'] as const) {
    await a.emulateMedia({ colorScheme });
    const serious = (await axeViolations(a)).filter(
      (v) => v.impact === 'serious' || v.impact === 'critical',
    );
    expect({ colorScheme, serious }).toEqual({ colorScheme, serious: [] });
  }

  const b = await device(await readQr(a));
  await acceptJoin(b);
  await waitSynced(b);
  await expectCount(b, 'Pages', 0);
  // a sees b arrive: the panel closes (its invite is used up) and says who joined.
  await a
    .getByRole('status', { name: 'Pairing' })
    .filter({ hasText: 'joined this space' })
    .waitFor();
  await expect.poll(() => a.getByRole('img', { name: 'Pairing QR code' }).count()).toBe(0);

  // A third device with the same (used) link is refused, in words.
  const c = await device(link);
  await acceptJoin(c);
  await c.getByRole('alert').filter({ hasText: 'already used' }).waitFor();
  await expect.poll(() => status(c).textContent()).toBe('Not syncing');

  // a lists both devices, this one marked, and removes b.
  const devices = a.getByRole('region', { name: 'Devices' });
  await devices.getByText('This device').waitFor();
  await devices.getByRole('listitem').nth(1).waitFor();
  await expect.poll(() => devices.getByRole('listitem').count()).toBe(2);
  // a names itself; the list says so, and so does b's once it reads the list again.
  await devices.getByRole('button', { name: 'Rename', exact: true }).click();
  await devices.getByLabel('Name of this device', { exact: true }).fill('Kitchen laptop');
  await devices.getByRole('button', { name: 'Save', exact: true }).click();
  await devices.getByText(/^Kitchen laptop · This device$/).waitFor();
  await b.reload();
  await b
    .getByRole('region', { name: 'Devices' })
    .getByText('Kitchen laptop', { exact: true })
    .waitFor();
  // Removing asks first, naming the device; answered no, nothing is removed.
  const answer = answers.get(a)!;
  answer.accept = false;
  // b is headless Chromium on Linux, named so by default; a renamed itself and has no button.
  const removeB = devices.getByRole('button', { name: 'Remove Chrome on Linux', exact: true });
  await removeB.click();
  await expect.poll(() => answer.asked.length).toBe(1);
  expect(answer.asked[0]).toMatch(/^Remove .+ from this space\? It keeps its counters\.$/);
  expect(await devices.getByRole('listitem').count()).toBe(2);
  answer.accept = true;
  await removeB.click();
  await devices.getByRole('listitem').nth(1).waitFor({ state: 'detached' });
  // b is told, keeps its counter, and no longer receives a's changes.
  await status(b)
    .filter({ hasText: /removed from the space/ })
    .waitFor({ timeout: 15_000 });
  // c joins with a fresh invite, as a witness: once c has a's next count, b would have it too
  // if it still received anything.
  await a.getByRole('button', { name: 'Pair a device', exact: true }).click();
  const fresh = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  await c.evaluate((url) => (location.href = url), fresh);
  await acceptJoin(c);
  await waitSynced(c);
  await a.getByRole('button', { name: 'Increment Pages', exact: true }).click();
  await expectCount(a, 'Pages', 1);
  await expectCount(c, 'Pages', 1);
  // Read once c has it: b, removed, still shows its own 0.
  expect(await b.getByLabel('Pages count', { exact: true }).textContent()).toBe('0');
});

it('when the QR code cannot be drawn, the panel says so, and the link still pairs', async () => {
  // The QR code's script does not load (offline before it was ever fetched, say). The service
  // worker would answer it from its cache, out of the test's reach: none here.
  const context = await app.newContext({ serviceWorkers: 'block' });
  await context.route(/\/assets\/qrcode-[^/]*\.js$/, (route) => route.abort());
  const a = await context.newPage();
  await a.goto(app.server.url);
  await a.getByLabel('Counter name', { exact: true }).waitFor();
  await addCounter(a, 'Pages');
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await waitSynced(a);
  const panel = a.getByRole('region', { name: 'Pair a device' });
  await panel
    .getByText('Could not draw the QR code; use the link above.', { exact: true })
    .waitFor();
  expect(await panel.getByText('Making the QR code…').count()).toBe(0);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  const b = await device(link);
  await acceptJoin(b);
  await waitSynced(b);
  await expectCount(b, 'Pages', 0);
});

it('an expired invite shows no QR code, only that it has expired', async () => {
  const a = await device();
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await waitSynced(a);
  await a.getByRole('img', { name: 'Pairing QR code', exact: true }).waitFor();
  // The time left ticks each second: not read out as it does; its end is.
  const expiry = a.getByRole('status', { name: 'Invite expiry' });
  expect(await expiry.getAttribute('aria-live')).toBe('off');
  // Sixteen minutes on (an invite works for fifteen), as the page's clock reads it.
  await a.clock.setFixedTime(Date.now() + 16 * 60_000);
  await expiry.filter({ hasText: 'This invite has expired.' }).waitFor();
  expect(await expiry.getAttribute('aria-live')).toBe('polite');
  await expect.poll(() => a.getByRole('img', { name: 'Pairing QR code' }).count()).toBe(0);
  expect(await a.getByText('Making the QR code…').count()).toBe(0);
});
