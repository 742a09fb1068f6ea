import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import { expectNoSeriousViolations } from '../helpers/axe.ts';
import { addCounter, counterIdOf, expectCount, launchChromium } from '../helpers/browser.ts';

let browser: Browser;
let server: RunningServer;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), serveApp()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A same-origin page without the app, for touching IndexedDB while no engine runs. */
async function blankPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}/__blank`);
  // The engine holds the writer lock while it lives; wait until the last one is gone.
  await page.waitForFunction(
    async () => !(await navigator.locks.query()).held?.some((l) => l.name === 'tally-writer'),
    undefined,
    { timeout: 30_000, polling: 100 },
  );
  return page;
}

type Damage = { row: unknown; event: unknown };

/** Overwrites one read-model row and one event of a stream with garbage; answers what it wrote. */
const damage = (page: Page, stream: string) =>
  page.evaluate(
    (stream) =>
      new Promise<Damage>((resolve, reject) => {
        const open = indexedDB.open('tally');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction(['views', 'events'], 'readwrite');
          const row = { view: 'counters', key: stream, value: { id: stream, value: 'lots' } };
          tx.objectStore('views').put(row);
          // The batch holding its first event (worker/event-records.ts), that event damaged.
          const cursor = tx.objectStore('events').index('byVersions').openCursor([stream, 1]);
          let event: unknown;
          cursor.onsuccess = () => {
            const batch = cursor.result!.value as { events: { stream: string; version: number }[] };
            const record = {
              ...batch,
              events: batch.events.map((e) =>
                e.stream === stream && e.version === 1 ? { ...e, type: 'Exploded' } : e,
              ),
            };
            cursor.result!.update(record);
            event = record;
          };
          tx.oncomplete = () => {
            db.close();
            resolve({ row, event });
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    stream,
  );

const readBack = (page: Page, stream: string) =>
  page.evaluate(
    (stream) =>
      new Promise<Damage>((resolve, reject) => {
        const open = indexedDB.open('tally');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction(['views', 'events'], 'readonly');
          const row = tx.objectStore('views').get(['counters', stream]);
          const event = tx.objectStore('events').index('byVersions').get([stream, 1]);
          tx.oncomplete = () => {
            db.close();
            resolve({ row: row.result, event: event.result });
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    stream,
  );

it('opens with damaged records, names them, keeps working, and never writes over them', async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  await context.route('**/__blank', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>blank</title>' }),
  );
  const app = await context.newPage();
  await app.goto(server.url);
  await addCounter(app, 'Good');
  await addCounter(app, 'Broken');
  await app.getByRole('button', { name: 'Increment Broken', exact: true }).click();
  await expectCount(app, 'Broken', 1);
  const broken = await counterIdOf(app, 'Broken');
  await app.close();

  const blank = await blankPage(context);
  const written = await damage(blank, broken);

  const reopened = await context.newPage();
  await reopened.goto(server.url);
  const problem = reopened.getByRole('status', { name: 'Storage problem' });
  await problem.waitFor();
  await expect.poll(() => problem.textContent()).toContain(`counters row “${broken}” is damaged`);
  // The banner (a danger colour) is readable in either scheme.
  await expectNoSeriousViolations(reopened);
  // The sound counter is there and still counts.
  await reopened.getByRole('button', { name: 'Increment Good', exact: true }).click();
  await expectCount(reopened, 'Good', 1);
  // A command on the damaged stream fails with a clear error and writes nothing.
  const failure = await reopened.evaluate(async (stream) => {
    const tally = (
      globalThis as unknown as {
        tally: { execute(s: string, c: { type: string }): Promise<unknown> };
      }
    ).tally;
    try {
      return { ok: await tally.execute(stream, { type: 'increment' }) };
    } catch (error) {
      return { code: (error as { code: string }).code, message: (error as Error).message };
    }
  }, broken);
  expect(failure).toMatchObject({ code: 'invalid', message: expect.stringContaining('Exploded') });
  await reopened.close();

  const after = await blankPage(context);
  expect(await readBack(after, broken)).toEqual(written);
  await context.close();
});

it('opens with damaged sync settings: counting works, sync says why it is off, and nothing writes over them', async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  await context.route('**/__blank', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>blank</title>' }),
  );
  const app = await context.newPage();
  await app.goto(server.url);
  await addCounter(app, 'Water');
  await app.close();

  const blank = await blankPage(context);
  const settings = (page: Page, write?: unknown) =>
    page.evaluate(
      (write) =>
        new Promise<unknown>((resolve, reject) => {
          const open = indexedDB.open('tally');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            const tx = db.transaction('meta', write === undefined ? 'readonly' : 'readwrite');
            const request =
              write === undefined
                ? tx.objectStore('meta').get('sync')
                : tx.objectStore('meta').put(write);
            tx.oncomplete = () => {
              db.close();
              resolve(write ?? request.result);
            };
            tx.onerror = () => reject(tx.error);
          };
        }),
      write,
    );
  const damaged = await settings(blank, { key: 'sync', origin: 42, space: ['no'] });
  await blank.close();

  const reopened = await context.newPage();
  await reopened.goto(server.url);
  // Sync says, in words, why it is off…
  await reopened
    .getByText('Not syncing · The sync settings stored on this device are damaged', {
      exact: false,
    })
    .waitFor();
  // …and the counters still count.
  await reopened.getByRole('button', { name: 'Increment Water', exact: true }).click();
  await expectCount(reopened, 'Water', 1);
  await reopened.close();

  const after = await blankPage(context);
  expect(await settings(after)).toEqual(damaged);
  await context.close();
});
