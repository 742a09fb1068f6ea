import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import { axeViolations } from '../helpers/axe.ts';
import {
  addCounter,
  closeLastPage,
  expectCount,
  firstScreenAtHead,
  launchChromium,
  openMore,
  RECORD_RENDERS,
  takeCommits,
  type RenderCommit,
} from '../helpers/browser.ts';
import { waitFor } from '../server/fixtures.ts';

/**
 * Issue 17: a long list is rendered a window at a time (app/CounterList.tsx). How fast it
 * appears is measured by `npm run bench`; here, that it behaves like the whole list.
 */
let browser: Browser;
let server: RunningServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), serveApp()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const total = 1_000;
const nameOf = (n: number) => `Counter ${String(n).padStart(4, '0')}`;

/** Creates counters through the page's engine client, many commands in flight at once. */
async function createMany(page: Page) {
  await page.evaluate(
    async ({ total, names }) => {
      const tally = (
        globalThis as unknown as {
          tally: { execute(stream: string, command: object): Promise<{ type: string }> };
        }
      ).tally;
      const results = await Promise.all(
        names.map((name, i) =>
          tally.execute(`counter-many-${String(i).padStart(4, '0')}`, { type: 'create', name }),
        ),
      );
      if (results.filter((r) => r.type === 'accepted').length !== total)
        throw new Error('Not every counter was created.');
    },
    { total, names: Array.from({ length: total }, (_, i) => nameOf(i)) },
  );
}

it('a thousand counters: a window of them in the page, every one reachable, axe clean', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  await createMany(page);
  await page.reload();
  const list = page.getByRole('list', { name: 'Counters', exact: true });
  await list.waitFor();
  await page.getByLabel(`${nameOf(0)} count`, { exact: true }).waitFor();
  // Only the cards near the screen are in the page, each telling its place in the whole list.
  const rendered = await page.locator('[data-counter]').count();
  expect(rendered).toBeGreaterThan(5);
  expect(rendered).toBeLessThan(100);
  const first = page.locator('[data-counter]').first();
  expect(await first.getAttribute('aria-posinset')).toBe('1');
  expect(await first.getAttribute('aria-setsize')).toBe(String(total));

  // Scrolled to the end, the last one is there and counts like any other.
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  const last = nameOf(total - 1);
  await waitFor(
    async () => (await page.getByLabel(`${last} count`, { exact: true }).count()) === 1,
    'the last counter to render',
  );
  await page.getByRole('button', { name: `Increment ${last}`, exact: true }).click();
  await expectCount(page, last, 1);
  expect(await page.locator('[data-counter]').count()).toBeLessThan(100);
  expect(await page.getByLabel(`${nameOf(0)} count`, { exact: true }).count()).toBe(0);

  // Keyboard: tabbing on from a card reaches the next ones, rendered as focus scrolls to them.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.getByRole('button', { name: `Increment ${nameOf(0)}`, exact: true }).focus();
  // Three stops a card at zero (+, +2, More; − is off): 60 presses land on the 21st card, past
  // what was rendered at first.
  for (let i = 0; i < 60; i++) await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
  expect(focused).toBe(`Increment ${nameOf(20)}`);

  // Opened again, a device whose list was long loads the grid as it starts: the list never
  // waits behind the grid's loading placeholder (React would hold it back up to 300 ms more).
  await page.addInitScript(() => {
    new MutationObserver(() => {
      if (document.querySelector('[data-loading="grid"]'))
        (globalThis as { sawGridLoading?: boolean }).sawGridLoading = true;
    }).observe(document, { childList: true, subtree: true });
  });
  await page.reload();
  await page.getByLabel(`${nameOf(0)} count`, { exact: true }).waitFor();
  expect(
    await page.evaluate(() => (globalThis as { sawGridLoading?: boolean }).sawGridLoading),
  ).toBeUndefined();

  // The grid starts from the row height it measured last time; a wrong one (a window resized
  // since, a damaged value) is measured away: every card is still reached, and it is corrected.
  const measured = await page.evaluate(() => localStorage.getItem('tally.rowHeight'));
  expect(Number(measured)).toBeGreaterThan(40);
  for (const wrong of ['1999', 'lots']) {
    await page.evaluate((wrong) => localStorage.setItem('tally.rowHeight', wrong), wrong);
    await page.reload();
    await page.getByLabel(`${nameOf(0)} count`, { exact: true }).waitFor();
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await waitFor(
      async () => (await page.getByLabel(`${last} count`, { exact: true }).count()) === 1,
      'the last counter to render',
    );
    await waitFor(
      async () => (await page.evaluate(() => localStorage.getItem('tally.rowHeight'))) === measured,
      'the row height to be measured again',
    );
  }
  await page.evaluate(() => window.scrollTo(0, 0));

  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const serious = (await axeViolations(page)).filter(
      (v) => v.impact === 'serious' || v.impact === 'critical',
    );
    expect({ colorScheme, serious }).toEqual({ colorScheme, serious: [] });
  }
  await context.close();
});

it('a long list at the next start: its first screen shows before the whole list is read, in its order', async () => {
  const long = 20_000;
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  let page = await context.newPage();
  await page.goto(server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  const streamOf = (n: number) => `counter-long-${String(n).padStart(5, '0')}`;
  await page.evaluate(
    async ({ long, ids }) => {
      const tally = (
        globalThis as unknown as {
          tally: { execute(stream: string, command: object): Promise<{ type: string }> };
        }
      ).tally;
      const results = await Promise.all(
        ids.map((id, i) => tally.execute(id, { type: 'create', name: `Long ${i}` })),
      );
      if (results.filter((r) => r.type === 'accepted').length !== long)
        throw new Error('Not every counter was created.');
      // Archived: not in the list, so not in its first screen.
      await tally.execute(ids[1]!, { type: 'archive' });
    },
    { long, ids: Array.from({ length: long }, (_, i) => streamOf(i)) },
  );
  // The engine keeps the first screen once the list has been quiet for a moment.
  await waitFor(() => firstScreenAtHead(page, long - 1), 'the first screen to be kept', 15_000);
  await closeLastPage(page);

  // A fresh start (the engine's worker went with the last page): what the tab gets first.
  page = await context.newPage();
  await page.addInitScript(() => {
    type Client = {
      viewRows(view: string): ReadonlyMap<string, unknown> | undefined;
      viewListed(view: string): number | undefined;
    };
    const seen: { listed?: number; keys?: string[]; whole?: boolean } = {};
    (globalThis as { seen?: typeof seen }).seen = seen;
    const look = () => {
      const tally = (globalThis as { tally?: Client }).tally;
      const rows = tally?.viewRows('counters');
      if (rows && seen.keys === undefined) {
        seen.keys = [...rows.keys()].slice(0, 3);
        seen.listed = tally!.viewListed('counters');
      }
      if (rows && seen.keys !== undefined && tally!.viewListed('counters') === undefined)
        seen.whole = true;
      else setTimeout(look, 1);
    };
    look();
  });
  await page.goto(server.url);
  await waitFor(
    () => page.evaluate(() => (globalThis as { seen?: { whole?: boolean } }).seen?.whole === true),
    'the whole list',
    30_000,
  );
  const seen = await page.evaluate(
    () => (globalThis as { seen?: { listed?: number; keys?: string[] } }).seen,
  );
  expect(seen).toEqual({ listed: long - 1, keys: [0, 2, 3].map(streamOf), whole: true });
  // The whole list then: the same order, every one there.
  const first = page.locator('[data-counter]').first();
  await expect.poll(() => first.getAttribute('aria-setsize')).toBe(String(long - 1));
  expect(await page.getByLabel('Long 0 count', { exact: true }).count()).toBe(1);
  await context.close();
}, 120_000);

it('a count renders its own card alone, in a short list and in a long one; a rename renders the page', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(RECORD_RENDERS);
  await page.goto(server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  const commits = () => takeCommits(page);
  for (const name of ['Water', 'Tea', 'Pages']) await addCounter(page, name);
  const idOf = async (name: string) =>
    (await page
      .getByLabel(`${name} count`, { exact: true })
      .evaluate((output) => output.closest<HTMLElement>('[data-counter]')!.dataset.counter))!;

  /** Counts on `name`'s card; what each commit from the click to its offer of undo rendered. */
  const count = async (name: string, expected: number): Promise<RenderCommit[]> => {
    await commits();
    await page.getByRole('button', { name: `Increment ${name}`, exact: true }).click();
    await expectCount(page, name, expected);
    await page.getByRole('status', { name: 'Last change' }).getByText(`+1 on ${name}`).waitFor();
    await expect
      .poll(() => page.getByRole('status', { name: 'Last change' }).textContent())
      .toContain(`was ${expected - 1}`);
    return commits();
  };

  for (const [name, expected] of [
    ['Water', 1],
    ['Tea', 1],
    ['Water', 2],
    ['Water', 3],
  ] as const) {
    const id = await idOf(name);
    const rendered = await count(name, expected);
    // The number came in a commit that rendered its own card's components and nothing else:
    // the number alone, or, leaving zero, the card too (− and Reset turn on).
    const shown = rendered.find((commit) => commit.numbers[name] === String(expected))!;
    expect(shown, `${name} ${expected}`).toEqual({
      app: false,
      cards: expected === 1 ? [id, id] : [id],
      others: 0,
      numbers: shown.numbers,
    });
    // And the page itself never rendered for it: the offer of undo rendered alone.
    expect(rendered.some((commit) => commit.app)).toBe(false);
    expect(rendered.flatMap((commit) => commit.cards)).toEqual(shown.cards);
    expect(rendered.reduce((sum, commit) => sum + commit.others, 0)).toBe(1);
  }

  // A rename shows the name outside its card too (the archived list, the backup's check of
  // names): the page renders.
  await commits();
  await openMore(page, 'Water');
  await page.getByRole('button', { name: 'Rename Water', exact: true }).click();
  await page.getByLabel('New name for Water', { exact: true }).fill('Juice');
  await page.keyboard.press('Enter');
  await page.getByLabel('Juice count', { exact: true }).waitFor();
  expect((await commits()).some((commit) => commit.app)).toBe(true);

  // With its More panel open, the card shows the value in the "Set value" field too: a count
  // renders the card, and the field follows (still not the page).
  await openMore(page, 'Juice');
  const field = page.getByLabel('New value for Juice', { exact: true });
  await expect.poll(() => field.getAttribute('placeholder')).toBe('3');
  const juice = await idOf('Juice');
  const withMore = await count('Juice', 4);
  expect(await field.getAttribute('placeholder')).toBe('4');
  expect(withMore.some((commit) => commit.app)).toBe(false);
  expect(withMore.flatMap((commit) => commit.cards)).toEqual([juice, juice]);

  // A long list (the virtual grid): a count still renders one card.
  await createMany(page);
  await page.getByLabel(`${nameOf(0)} count`, { exact: true }).waitFor();
  await commits();
  for (const expected of [1, 2]) {
    const rendered = await count(nameOf(0), expected);
    expect(rendered.some((commit) => commit.app)).toBe(false);
    expect(rendered.flatMap((commit) => commit.cards)).toEqual(
      expected === 1 ? ['counter-many-0000', 'counter-many-0000'] : ['counter-many-0000'],
    );
    // The offer of undo, and nothing else: not the grid.
    expect(rendered.reduce((sum, commit) => sum + commit.others, 0)).toBe(1);
  }
  await context.close();
});
