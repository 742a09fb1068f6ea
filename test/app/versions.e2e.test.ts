import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ExecuteResult } from '../../core/engine-protocol.ts';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import {
  addCounter,
  counterIdOf,
  expectCount,
  historyOf,
  launchChromium,
} from '../helpers/browser.ts';
import { buildVersions } from '../helpers/builds.ts';

let browser: Browser;
let server: RunningServer;
let builds: ReturnType<typeof buildVersions>;

beforeAll(async () => {
  builds = buildVersions(['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
  [browser, server] = await Promise.all([launchChromium(), serveApp(builds.current)]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  builds?.cleanup();
});

type Tally = { execute(stream: string, command: { type: string }): Promise<ExecuteResult> };

/**
 * Fires `n` increments from the page's engine client, one after another; counts the outcomes.
 * With `untilOutdated`, stops at the first answer that its engine has stopped writing.
 */
const fire = (page: Page, stream: string, n: number, untilOutdated = false) =>
  page.evaluate(
    async ({ stream, n, untilOutdated }) => {
      const tally = (globalThis as unknown as { tally: Tally }).tally;
      const outcome = { accepted: 0, outdated: 0, other: [] as string[] };
      for (let i = 0; i < n; i++) {
        try {
          const result = await tally.execute(stream, { type: 'increment' });
          if (result.type === 'accepted') outcome.accepted++;
          else outcome.other.push(result.reason);
        } catch (error) {
          if ((error as { code?: string }).code !== 'outdated') outcome.other.push(String(error));
          else {
            outcome.outdated++;
            if (untilOutdated) break;
          }
        }
      }
      return outcome;
    },
    { stream, n, untilOutdated },
  );

it('an old-version tab and a new-version tab never both write', async () => {
  // Service workers are the PWA's business (tested on their own); here only the engines meet.
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const old = await context.newPage();
  await old.goto(server.url);
  await addCounter(old, 'Versioned');
  const build = await old.evaluate(async () => {
    const tally = (globalThis as unknown as { tally: { info(): Promise<{ build: string }> } })
      .tally;
    return (await tally.info()).build;
  });
  expect(build).toBe('2026-01-01T00:00:00.000Z');

  // The old tab keeps writing while the new version starts in another tab (however long that
  // start takes on a busy machine), until its engine stops.
  const streamId = await counterIdOf(old, 'Versioned');
  builds.deploy(1);
  const oldWriting = fire(old, streamId, 20_000, true);
  const fresh = await context.newPage();
  await fresh.goto(server.url);
  const newWriting = fire(fresh, streamId, 100);
  const [oldOutcome, newOutcome] = await Promise.all([oldWriting, newWriting]);

  expect(newOutcome).toEqual({ accepted: 100, outdated: 0, other: [] });
  expect(oldOutcome.other).toEqual([]);
  expect(oldOutcome.outdated).toBeGreaterThan(0); // the old engine stopped writing
  const total = oldOutcome.accepted + newOutcome.accepted;
  await expectCount(fresh, 'Versioned', total);
  // The old tab is told to reload, and after reloading runs the new version.
  await old.getByRole('status').filter({ hasText: 'Reload this tab' }).waitFor();
  await old.reload();
  await expectCount(old, 'Versioned', total);
  const history = await historyOf(old, 'Versioned');
  expect(history.map((h) => h.version)).toEqual(Array.from({ length: total + 1 }, (_, i) => i + 1));
  await context.close();
});
