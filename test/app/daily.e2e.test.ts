import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { syncedAppFixture } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import {
  acceptJoin,
  addCounter,
  expectCount,
  focusedOn,
  historyOf,
  openMore,
} from '../helpers/browser.ts';

const app = syncedAppFixture();

async function device(
  url = app.server.url,
  viewport?: { width: number; height: number },
): Promise<Page> {
  const context = await app.newContext(viewport ? { viewport } : {});
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

it('reset, then undo, on one device shows on the other; both are commands that sync', async () => {
  const a = await device();
  await addCounter(a, 'Water');
  for (let i = 0; i < 3; i++)
    await a.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await expectCount(a, 'Water', 3);
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await synced(a);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  const b = await device(link, { width: 390, height: 844 });
  await acceptJoin(b);
  await expectCount(b, 'Water', 3);

  await openMore(a, 'Water');
  await a.getByRole('button', { name: 'Reset Water', exact: true }).click();
  await expectCount(a, 'Water', 0);
  await expectCount(b, 'Water', 0);
  // Reset is off at zero; Undo takes the reset back, as a new command.
  await expect
    .poll(() => a.getByRole('button', { name: 'Reset Water', exact: true }).isDisabled())
    .toBe(true);
  await expect
    .poll(() => a.getByRole('status', { name: 'Last change' }).textContent())
    .toContain('Reset Water');
  await a.getByRole('button', { name: 'Undo', exact: true }).click();
  await expectCount(a, 'Water', 3);
  await expectCount(b, 'Water', 3);
  const history = await historyOf(b, 'Water');
  expect(history.map((h) => h.value)).toEqual([0, 1, 2, 3, 0, 3]);
});

const seriousIn = async (page: Page) =>
  (await axeViolations(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');

it('on a phone, six counters fit the screen with the big number, and every screen passes axe', async () => {
  const page = await device(app.server.url, { width: 390, height: 844 });
  const names = ['Water', 'Push-ups', 'Pages', 'Coffee', 'Steps', 'Meds'];
  for (const name of names) await addCounter(page, name);
  const cards = page.locator('[data-counter]');
  expect(await cards.count()).toBe(6);
  // Scrolled to the list, the six cards are on screen together.
  await cards.first().evaluate((card) => card.scrollIntoView({ block: 'start' }));
  const boxes = await cards.evaluateAll((all) =>
    all.map((card) => {
      const box = card.getBoundingClientRect();
      return { top: box.top, bottom: box.bottom, height: box.height };
    }),
  );
  expect(boxes.at(-1)!.bottom - boxes[0]!.top).toBeLessThanOrEqual(844);
  expect(boxes.every((box) => box.bottom <= 844 && box.top >= 0)).toBe(true);
  // The number stays big.
  const size = await page
    .getByLabel('Meds count', { exact: true })
    .evaluate((value) => parseFloat(getComputedStyle(value).fontSize));
  expect(size).toBeGreaterThanOrEqual(36);
  // Nothing is wider than the phone.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

  // − on the last card at zero: off, with its reason.
  expect(await page.getByRole('button', { name: 'Decrement Meds', exact: true }).isDisabled()).toBe(
    true,
  );
  // A refusal on the last card shows in that card, not at the top of the page, and moves no
  // other card.
  const firstBefore = await cards.first().boundingBox();
  await openMore(page, 'Meds');
  await page.getByLabel('New value for Meds', { exact: true }).fill('lots');
  await page.getByRole('button', { name: 'Set Meds', exact: true }).click();
  const alert = cards.last().getByRole('alert');
  await alert.filter({ hasText: 'A value must be a whole number' }).waitFor();
  const [alertBox, cardBox] = [await alert.boundingBox(), await cards.last().boundingBox()];
  expect(alertBox!.y).toBeGreaterThanOrEqual(cardBox!.y);
  expect(alertBox!.y + alertBox!.height).toBeLessThanOrEqual(cardBox!.y + cardBox!.height);
  expect(await cards.first().boundingBox()).toEqual(firstBefore);
  // With the More panel and a history open, in light and dark: no serious violation.
  await page.getByRole('button', { name: 'History of Meds', exact: true }).click();
  await page.getByRole('img', { name: 'Meds per day' }).waitFor();
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    expect({ colorScheme, serious: await seriousIn(page) }).toEqual({ colorScheme, serious: [] });
  }
  // `TALLY_SCREENSHOTS=docs npx vitest run --project e2e test/app/daily.e2e.test.ts` renews
  // the README's phone screenshot.
  const shots = process.env['TALLY_SCREENSHOTS'];
  if (shots) await page.screenshot({ path: `${shots}/screenshot-phone-dark.png` });
  await page.emulateMedia({ colorScheme: 'light' });
  if (shots) {
    await page.getByRole('button', { name: 'History of Meds', exact: true }).click();
    await page.getByRole('button', { name: 'More for Meds', exact: true }).click();
    await page
      .locator('main > [role=alert], .card-alert')
      .first()
      .evaluate(() => undefined);
    await cards.first().evaluate((card) => card.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: `${shots}/screenshot-phone.png` });
  }
});

/** The channel the engine's worker takes its test clock from (see `engineOnClock`). */
const clockChannel = 'tally-test-clock';

/**
 * A context whose engine (the SharedWorker) reads the time from a clock the test sets: events
 * are stamped there, and Playwright's page clock does not reach workers. The worker's script is
 * served with a few lines in front that replace `Date.now` before the engine is built; its time
 * then runs on from `start`, and `setEngineTime` moves it. No service worker, so the script is
 * always fetched. The page's own clock (`page.clock`) is set by the test beside it.
 */
async function engineOnClock(start: number): Promise<Page> {
  const context = await app.newContext({
    serviceWorkers: 'block',
    timezoneId: 'UTC',
    locale: 'en-US',
  });
  await context.route(/\/assets\/shared-worker-[\w-]+\.js$/, async (route) => {
    const response = await route.fetch();
    const shim = `{
  const realNow = Date.now.bind(Date);
  let base = ${start};
  let setAt = realNow();
  Date.now = () => base + (realNow() - setAt);
  const channel = new BroadcastChannel(${JSON.stringify(clockChannel)});
  channel.onmessage = ({ data }) => {
    base = data;
    setAt = realNow();
    channel.postMessage(Date.now());
  };
}
`;
    await route.fulfill({ response, body: shim + (await response.text()) });
  });
  const page = await context.newPage();
  await page.goto(app.server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  return page;
}

/** Moves the engine's clock to `time`; answers once the worker reads it. */
async function setEngineTime(page: Page, time: number): Promise<void> {
  const read = await page.evaluate(
    ([name, time]) =>
      new Promise<number>((resolve) => {
        const channel = new BroadcastChannel(name);
        channel.onmessage = ({ data }) => {
          channel.close();
          resolve(data as number);
        };
        channel.postMessage(time);
      }),
    [clockChannel, time] as const,
  );
  expect(read).toBeGreaterThanOrEqual(time);
}

it('history reads as actions, newest first, by day, with the per-day chart of the model', async () => {
  // Three days in a row, counted on each (in UTC, the context's time zone).
  const hour = 3_600_000;
  const [tuesday, wednesday, thursday] = [10, 11, 12].map((day) => Date.UTC(2026, 2, day, 9));
  const page = await engineOnClock(tuesday!);
  const click = (name: string) => page.getByRole('button', { name, exact: true }).click();
  // Tuesday: made, +1, +2.
  await addCounter(page, 'Pages');
  await click('Increment Pages');
  await click('Add 2 to Pages');
  await expectCount(page, 'Pages', 3);
  // Wednesday: −1, and a step of 5: the +N button now adds 5 in one event.
  await setEngineTime(page, wednesday!);
  await click('Decrement Pages');
  await expectCount(page, 'Pages', 2);
  await openMore(page, 'Pages');
  await page.getByLabel('Step for Pages', { exact: true }).fill('5');
  await click('Save step for Pages');
  await click('Add 5 to Pages');
  await expectCount(page, 'Pages', 7);
  // Thursday: a value set, then +1.
  await setEngineTime(page, thursday!);
  await page.getByLabel('New value for Pages', { exact: true }).fill('40');
  await click('Set Pages');
  await expectCount(page, 'Pages', 40);
  await expect
    .poll(() => page.getByRole('status', { name: 'Last change' }).textContent())
    .toBe('Set Pages to 40 · was 7Undo');
  // A set value the model refuses: a sentence on the card, nothing changes.
  await page.getByLabel('New value for Pages', { exact: true }).fill('-3');
  await click('Set Pages');
  await page
    .locator('[data-counter]', { hasText: 'Pages' })
    .getByRole('alert')
    .filter({ hasText: 'A value must be a whole number from 0 to 1,000,000,000.' })
    .waitFor();
  await expectCount(page, 'Pages', 40);
  await click('Increment Pages');
  await expectCount(page, 'Pages', 41);

  // The page reads it on Thursday afternoon.
  await page.clock.setFixedTime(thursday! + 6 * hour);
  await click('History of Pages');
  const history = page.getByRole('group', { name: 'Pages changes, newest first', exact: true });
  await history.waitFor();
  await page.getByRole('region', { name: 'Today', exact: true }).waitFor();
  const lines = await history.locator('li .what').allTextContents();
  expect(lines).toEqual([
    '+1',
    'Set to 40 (was 7)',
    '+5',
    'Step changed',
    '−1',
    '+2',
    '+1',
    'Created as “Pages”',
  ]);
  const after = await history.locator('li .after').allTextContents();
  expect(after.map((text) => Number(text.replace(/\D/g, '')))).toEqual([41, 40, 7, 2, 2, 3, 1, 0]);
  // The events behind them: the +2 is the seed's batch of two, one command.
  expect((await historyOf(page, 'Pages')).map((h) => h.value)).toEqual([
    0, 1, 2, 3, 2, 2, 7, 40, 41,
  ]);

  // Grouped by the day they were made, newest first, each day named once.
  const groups = await history.locator('section.history-day').evaluateAll((sections) =>
    sections.map((section) => ({
      title: section.getAttribute('aria-label'),
      heading: section.querySelector('h3')?.textContent,
      days: [...section.querySelectorAll('time')].map((t) =>
        t.getAttribute('datetime')!.slice(0, 10),
      ),
      what: [...section.querySelectorAll('li .what')].map((what) => what.textContent!),
    })),
  );
  expect(
    groups.map(({ title, heading, days }) => ({ title, heading, days: [...new Set(days)] })),
  ).toEqual([
    { title: 'Today', heading: 'Today', days: ['2026-03-12'] },
    { title: 'Yesterday', heading: 'Yesterday', days: ['2026-03-11'] },
    { title: 'Tuesday, March 10', heading: 'Tuesday, March 10', days: ['2026-03-10'] },
  ]);
  expect(groups.flatMap((group) => group.what)).toEqual(lines);

  // What the model counted each day, from the lines the page shows: the +N and −N lines added
  // up (a set value, a step or the making of the counter is not counting).
  const counted = new Map(
    groups.map(({ days, what }) => [
      days[0]!,
      what.reduce((sum, text) => {
        const step = /^([+−])(\d+)$/.exec(text);
        return step ? sum + (step[1] === '+' ? 1 : -1) * Number(step[2]) : sum;
      }, 0),
    ]),
  );
  expect([...counted.values()].every((total) => total !== 0)).toBe(true);

  // The chart: 30 days, today last, each day's bar what the model counted that day.
  const chart = page.getByRole('img', { name: 'Pages per day', exact: true });
  const bars = await chart.locator('rect').evaluateAll((rects) =>
    rects.map((rect) => ({
      day: rect.getAttribute('data-day')!,
      total: Number(rect.getAttribute('data-total')),
    })),
  );
  expect(bars).toHaveLength(30);
  expect(bars.at(-1)!.day).toBe('2026-03-12');
  expect(bars).toEqual(bars.map(({ day }) => ({ day, total: counted.get(day) ?? 0 })));
  // Its figures are in words too, a day at a time.
  const described = await chart.evaluate(
    (svg) => document.getElementById(svg.getAttribute('aria-describedby') ?? '')?.textContent,
  );
  expect(described).toMatch(
    new RegExp(
      `Mar 10: ${counted.get('2026-03-10')}, Mar 11: ${counted.get('2026-03-11')}, Mar 12: ${counted.get('2026-03-12')}$`,
    ),
  );
  // Keyboard: the list of changes takes focus, so it scrolls with the arrow keys.
  await history.focus();
  expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(
    'Pages changes, newest first',
  );
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    expect({ colorScheme, serious: await seriousIn(page) }).toEqual({ colorScheme, serious: [] });
  }
  await page.emulateMedia({ colorScheme: 'light' });
});

it('undo of a +N counts back, so what another device counted meanwhile stays', async () => {
  const a = await device();
  await addCounter(a, 'Laps');
  await a.getByRole('button', { name: 'Start syncing', exact: true }).click();
  await synced(a);
  const link = await a.getByLabel('Pairing link', { exact: true }).inputValue();
  const b = await device(link);
  await acceptJoin(b);
  await expectCount(b, 'Laps', 0);
  await a.getByRole('button', { name: 'Add 2 to Laps', exact: true }).click();
  await expectCount(b, 'Laps', 2);
  await b.getByRole('button', { name: 'Increment Laps', exact: true }).click();
  await expectCount(a, 'Laps', 3);
  // a takes back its +2: b's +1 stays (a set back to 0 would have lost it).
  await a.getByRole('button', { name: 'Undo', exact: true }).click();
  await expectCount(a, 'Laps', 1);
  await expectCount(b, 'Laps', 1);
});

it('offers Install where the browser offers installation, and asks the browser once', async () => {
  const page = await device();
  expect(await page.getByRole('button', { name: 'Install', exact: true }).count()).toBe(0);
  // What Chromium fires when the app is installable (headless never does): the page's offer.
  await page.evaluate(() => {
    const offer = Object.assign(new Event('beforeinstallprompt', { cancelable: true }), {
      prompted: 0,
      prompt() {
        this.prompted++;
        return Promise.resolve();
      },
      userChoice: Promise.resolve({ outcome: 'accepted' }),
    });
    (globalThis as unknown as { offer: typeof offer }).offer = offer;
    window.dispatchEvent(offer);
  });
  await page.getByRole('button', { name: 'Install', exact: true }).click();
  const offer = await page.evaluate(() => {
    const { prompted, defaultPrevented } = (
      globalThis as unknown as { offer: { prompted: number; defaultPrevented: boolean } }
    ).offer;
    return { prompted, defaultPrevented };
  });
  expect(offer).toEqual({ prompted: 1, defaultPrevented: true });
  // Used up: the button goes.
  await page.getByRole('button', { name: 'Install', exact: true }).waitFor({ state: 'detached' });
});

it('asks the browser to keep its storage once a person has counted, and only once', async () => {
  const context = await app.newContext();
  // Counts the page's requests to keep its storage (Chromium's own answer is still given).
  await context.addInitScript(() => {
    const storage = navigator.storage;
    // about:blank, before the app's page, has none.
    if (!storage) return;
    const persist = storage.persist.bind(storage);
    const calls = { n: 0 };
    (globalThis as unknown as { persistCalls: typeof calls }).persistCalls = calls;
    storage.persist = () => {
      calls.n++;
      return persist();
    };
  });
  const page = await context.newPage();
  await page.goto(app.server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  const calls = () =>
    page.evaluate(() => (globalThis as unknown as { persistCalls: { n: number } }).persistCalls.n);
  expect(await calls()).toBe(0);
  await addCounter(page, 'Water');
  await expect.poll(calls).toBe(1);
  for (let i = 0; i < 3; i++)
    await page.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await expectCount(page, 'Water', 3);
  expect(await calls()).toBe(1);
});

it('says the browser keeps the data as soon as it grants the request to keep it, without a reload', async () => {
  const context = await app.newContext();
  // The browser's decision, not the app's, stands in: it grants the request when the test says.
  await context.addInitScript(() => {
    const storage = navigator.storage;
    if (!storage) return;
    const state = { granted: false, asked: 0, grant: () => undefined as void };
    (globalThis as unknown as { keeping: typeof state }).keeping = state;
    storage.persisted = () => Promise.resolve(state.granted);
    storage.persist = () => {
      state.asked++;
      return new Promise((resolve) => {
        state.grant = () => {
          state.granted = true;
          resolve(true);
        };
      });
    };
  });
  const page = await context.newPage();
  await page.goto(app.server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  const where = page.getByLabel('Where your data lives', { exact: true });
  await addCounter(page, 'Water');
  await expect
    .poll(() =>
      page.evaluate(() => (globalThis as unknown as { keeping: { asked: number } }).keeping.asked),
    )
    .toBe(1);
  await expect.poll(() => where.textContent()).toMatch(/may clear them/);
  await page.evaluate(() =>
    (globalThis as unknown as { keeping: { grant(): void } }).keeping.grant(),
  );
  await expect
    .poll(() => where.textContent())
    .toBe(
      'Your counters live only on this device, and the browser keeps them. Export a backup to keep a copy.',
    );
});

it('on a phone, the Undo bar fits whatever the name, and offers the newest change: a rename, then an archive', async () => {
  const page = await device(app.server.url, { width: 390, height: 844 });
  const long = 'x'.repeat(60);
  await addCounter(page, long);
  await addCounter(page, 'Water');
  // With the keyboard alone.
  await page.getByRole('button', { name: `Increment ${long}`, exact: true }).focus();
  await page.keyboard.press('Enter');
  const bar = page.getByRole('status', { name: 'Last change' });
  // All of it is read out; a long name is cut short on screen only.
  await expect.poll(() => bar.textContent()).toBe(`+1 on ${long} · was 0Undo`);
  const undo = bar.getByRole('button', { name: 'Undo', exact: true });
  const barBox = (await bar.boundingBox())!;
  const undoBox = (await undo.boundingBox())!;
  const wasBox = (await bar.getByText('· was 0').boundingBox())!;
  expect(barBox.x).toBeGreaterThanOrEqual(0);
  expect(barBox.x + barBox.width).toBeLessThanOrEqual(390);
  for (const box of [undoBox, wasBox]) {
    expect(box.x).toBeGreaterThanOrEqual(barBox.x);
    expect(box.x + box.width).toBeLessThanOrEqual(barBox.x + barBox.width);
  }
  // What a finger on Undo reaches is Undo.
  const tapped = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.textContent, {
    x: undoBox.x + undoBox.width / 2,
    y: undoBox.y + undoBox.height / 2,
  });
  expect(tapped).toBe('Undo');
  // Undone, the bar goes, and focus goes to the counter it changed, not to the page.
  await undo.focus();
  await page.keyboard.press('Enter');
  await expectCount(page, long, 0);
  await bar.waitFor({ state: 'detached' });
  await expect.poll(() => focusedOn(page)).toBe(`Increment ${long}`);

  // Renamed since, the offer is of the rename, the newest change, not of the +1 before it.
  await page.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await expect.poll(() => bar.textContent()).toBe('+1 on Water · was 0Undo');
  await openMore(page, 'Water');
  await page.getByRole('button', { name: 'Rename Water', exact: true }).click();
  await page.getByLabel('New name for Water', { exact: true }).fill('Water glass');
  await page.keyboard.press('Enter');
  await expect.poll(() => bar.textContent()).toBe('Renamed Water glass · was WaterUndo');
  // A long name it had is cut short on screen, as the name now is: Undo stays on the phone.
  await page.getByRole('button', { name: 'Rename Water glass', exact: true }).click();
  await page.getByLabel('New name for Water glass', { exact: true }).fill(`y${long.slice(1)}`);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: `Rename y${long.slice(1)}`, exact: true }).click();
  await page.getByLabel(`New name for y${long.slice(1)}`, { exact: true }).fill('Water glass');
  await page.keyboard.press('Enter');
  await expect
    .poll(() => bar.textContent())
    .toBe(`Renamed Water glass · was y${long.slice(1)}Undo`);
  const renamedBox = (await bar.getByRole('button', { name: 'Undo', exact: true }).boundingBox())!;
  expect(renamedBox.x + renamedBox.width).toBeLessThanOrEqual(barBox.x + barBox.width);
  // Archived, the offer is of the archive: its card is gone, and Undo brings it back.
  await page.getByRole('button', { name: 'Archive Water glass', exact: true }).click();
  await page.waitForFunction(() => document.activeElement?.hasAttribute('data-archive-toggle'));
  await expect.poll(() => bar.textContent()).toBe('Archived Water glassUndo');
  await bar.getByRole('button', { name: 'Undo', exact: true }).click();
  await expectCount(page, 'Water glass', 1);
  await bar.waitFor({ state: 'detached' });
  await expect.poll(() => focusedOn(page)).toBe('Increment Water glass');
});

it('Undo takes back the newest change of any kind, as a new command: a rename, a step, an archive, not the +1 before them', async () => {
  const page = await device();
  await addCounter(page, 'Tea');
  const bar = page.getByRole('status', { name: 'Last change' });
  const undo = () => bar.getByRole('button', { name: 'Undo', exact: true }).click();
  await page.getByRole('button', { name: 'Increment Tea', exact: true }).click();
  await expect.poll(() => bar.textContent()).toBe('+1 on Tea · was 0Undo');

  // +1, then a rename: Undo takes back the rename; the +1 stays.
  await openMore(page, 'Tea');
  await page.getByRole('button', { name: 'Rename Tea', exact: true }).click();
  await page.getByLabel('New name for Tea', { exact: true }).fill('Coffee');
  await page.keyboard.press('Enter');
  await expect.poll(() => bar.textContent()).toBe('Renamed Coffee · was TeaUndo');
  await undo();
  await page.getByRole('heading', { name: 'Tea', exact: true, level: 2 }).waitFor();
  await expectCount(page, 'Tea', 1);
  await bar.waitFor({ state: 'detached' });

  // A step: Undo sets the step back (the +N button is +2 again, the seed's two increments).
  await page.getByLabel('Step for Tea', { exact: true }).fill('5');
  await page.getByRole('button', { name: 'Save step for Tea', exact: true }).click();
  await page.getByRole('button', { name: 'Add 5 to Tea', exact: true }).waitFor();
  await expect.poll(() => bar.textContent()).toBe('Step set to 5 on Tea · was 1Undo');
  await undo();
  await page.getByRole('button', { name: 'Add 2 to Tea', exact: true }).waitFor();
  await expectCount(page, 'Tea', 1);

  // An archive: Undo restores it, with its count.
  await openMore(page, 'Tea');
  await page.getByRole('button', { name: 'Archive Tea', exact: true }).click();
  await expect.poll(() => bar.textContent()).toBe('Archived TeaUndo');
  await undo();
  await expectCount(page, 'Tea', 1);

  // Each undo is a command of its own, an event in the counter's history after the change it
  // takes back (created, +1, renamed and back, step and back, archived and restored).
  expect((await historyOf(page, 'Tea')).map((h) => h.value)).toEqual([0, 1, 1, 1, 1, 1, 1, 1]);
});

it('a refused Undo says why on its counter’s card, not at the top of the page', async () => {
  const page = await device();
  await addCounter(page, 'Tea');
  await openMore(page, 'Tea');
  await page.getByRole('button', { name: 'Rename Tea', exact: true }).click();
  await page.getByLabel('New name for Tea', { exact: true }).fill('Coffee');
  await page.keyboard.press('Enter');
  const bar = page.getByRole('status', { name: 'Last change' });
  await expect.poll(() => bar.textContent()).toBe('Renamed Coffee · was TeaUndo');
  // Meanwhile another counter took the old name: the rename back is refused.
  await addCounter(page, 'Tea');
  await bar.getByRole('button', { name: 'Undo', exact: true }).click();
  const card = page.locator('[data-counter]', {
    has: page.getByRole('heading', { name: 'Coffee', exact: true }),
  });
  await expect
    .poll(() => card.getByRole('alert').textContent())
    .toBe('There is already a counter named “Tea”.×');
  expect(await page.locator('main > [role=alert]').textContent()).toBe('');
  await page.getByRole('heading', { name: 'Coffee', exact: true, level: 2 }).waitFor();
  expect(
    (await axeViolations(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical'),
  ).toEqual([]);
});

it('with the keyboard alone, a press that turns itself off (− to zero, Reset) hands focus to +', async () => {
  const page = await device();
  await addCounter(page, 'Water');
  await page.getByRole('button', { name: 'Increment Water', exact: true }).focus();
  await page.keyboard.press('Enter');
  await expectCount(page, 'Water', 1);
  // − is on now: Shift+Tab reaches it. At 1 it takes the count to zero, and turns off.
  await page.keyboard.press('Shift+Tab');
  expect(await focusedOn(page)).toBe('Decrement Water');
  await page.keyboard.press('Enter');
  await expectCount(page, 'Water', 0);
  await expect.poll(() => focusedOn(page)).toBe('Increment Water');
  // Focus is where the keyboard can go on counting.
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  await expectCount(page, 'Water', 2);

  // Reset, in the More panel, turns off at zero too.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  expect(await focusedOn(page)).toBe('More for Water');
  await page.keyboard.press('Enter');
  // ↑ and ↓ are off (the only counter): Tab goes to Reset.
  await page.keyboard.press('Tab');
  expect(await focusedOn(page)).toBe('Reset Water');
  await page.keyboard.press('Enter');
  await expectCount(page, 'Water', 0);
  await expect.poll(() => focusedOn(page)).toBe('Increment Water');
});
