import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import {
  addCounter,
  counterIdOf,
  expectCount,
  historyOf,
  launchProfileAt,
  removeProfileDir,
} from '../helpers/browser.ts';

/**
 * The browser killed as a crash kills it (SIGKILL to its main process), on a profile on disk as a
 * person's is, while a burst of commands is in flight and what the appends leave behind (heads,
 * rows: docs/architecture.md, "Written behind the appends") is not written yet: every count that
 * was answered is there at the next start, none twice, and the list agrees with the history.
 * (A killed process leaves what it wrote in the system's page cache, so this proves what the
 * start folds again and that an answer comes after its commit, not that a strict commit reached
 * the disk: only a power cut would tell that.)
 */

let server: RunningServer;
const dirs: string[] = [];

beforeAll(async () => {
  server = await serveApp();
});
afterAll(async () => {
  await server?.close();
  for (const dir of dirs) await removeProfileDir(dir);
});

const BURST = 5_000;

type Win = {
  tally: { execute(stream: string, command: object): Promise<{ type: string }> };
  answered: number;
};

async function openApp(page: Page): Promise<void> {
  await page.goto(server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
}

/** What the store holds for `stream`, read straight from IndexedDB by a page that starts no engine. */
async function stored(page: Page, stream: string): Promise<{ events: number; row?: number }> {
  await page.goto(`${server.url}/manifest.webmanifest`);
  return page.evaluate(async (stream) => {
    const request = <T>(r: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    const open = indexedDB.open('tally');
    const db = await request(open);
    try {
      const tx = db.transaction(['events', 'views'], 'readonly');
      const range = IDBKeyRange.bound([stream, 0], [stream, Number.MAX_SAFE_INTEGER]);
      // Events stored alone, and those in an append's batch (one index entry each:
      // worker/event-records.ts).
      const [alone, inBatches] = await Promise.all(
        ['byStream', 'byVersions'].map((index) =>
          request(tx.objectStore('events').index(index).count(range)),
        ),
      );
      const events = alone! + inBatches!;
      const row = (await request(tx.objectStore('views').get(['counters', stream]))) as
        { value: { value: number } } | undefined;
      return { events, ...(row ? { row: row.value.value } : {}) };
    } finally {
      db.close();
    }
  }, stream);
}

it('a browser killed in the middle of a burst keeps every answered count, once, and its list agrees', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-crash-'));
  dirs.push(dir);
  const first = await launchProfileAt(dir);
  let stream: string;
  let answered: number;
  try {
    const page = await first.newPage();
    await openApp(page);
    await addCounter(page, 'Water');
    stream = await counterIdOf(page, 'Water');
    // Its row stored (written behind the create, once the appends paused): the burst's counts
    // then leave it behind, as the next start must find it.
    const probe = await first.newPage();
    await expect
      .poll(async () => (await stored(probe, stream)).row, { timeout: 10_000, interval: 50 })
      .toBe(0);
    await probe.close();
    // Fire the burst without waiting, counting the answers; kill once a few hundred are in.
    await page.evaluate(
      ([stream, n]) => {
        const win = globalThis as unknown as Win;
        win.answered = 0;
        for (let i = 0; i < n; i++)
          void win.tally.execute(stream, { type: 'increment' }).then(
            (result) => {
              if (result.type === 'accepted') win.answered++;
            },
            () => undefined,
          );
      },
      [stream, BURST] as const,
    );
    await page.waitForFunction(() => (globalThis as unknown as Win).answered >= 300, undefined, {
      polling: 5,
      timeout: 20_000,
    });
    // A lower bound: answers that arrive between this read and the kill are kept too.
    answered = await page.evaluate(() => (globalThis as unknown as Win).answered);
    await first.kill();
  } catch (error) {
    await first.close().catch(() => undefined);
    throw error;
  }

  const second = await launchProfileAt(dir);
  try {
    // As the crash left it, before any engine starts: the burst was cut short, and the list's
    // row was still behind its events (what the next start must fold again).
    const before = await stored(await second.newPage(), stream);
    expect(before.events - 1).toBeGreaterThanOrEqual(answered);
    expect(before.events - 1).toBeLessThan(BURST);
    expect(before.row).toBeDefined();
    expect(before.row).toBeLessThan(before.events - 1);

    const page = await second.newPage();
    await openApp(page);
    const value = before.events - 1;
    await expectCount(page, 'Water', value);
    const history = await historyOf(page, 'Water');
    expect(history.map((entry) => entry.version)).toEqual(
      Array.from({ length: value + 1 }, (_, i) => i + 1),
    );
    expect(history.at(-1)?.value).toBe(value);
    // And it counts on from there.
    await page.getByRole('button', { name: 'Increment Water', exact: true }).click();
    await expectCount(page, 'Water', value + 1);
    await page.reload();
    await expectCount(page, 'Water', value + 1);
  } finally {
    await second.close();
  }
});
