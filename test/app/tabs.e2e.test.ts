import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { serveApp } from '../helpers/app-server.ts';
import {
  addCounter,
  counterIdOf,
  countOf,
  expectCount,
  historyOf,
  launchChromium,
  openMore,
  RECORD_RENDERS,
  takeCommits,
} from '../helpers/browser.ts';

let browser: Browser;
let server: RunningServer;
let context: BrowserContext;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), serveApp()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});
afterEach(async () => {
  await context?.close();
});

const NO_SHARED_WORKER = 'delete globalThis.SharedWorker;';

/** Records every Content-Security-Policy violation: the app must run under the server's CSP. */
const RECORD_CSP = `globalThis.cspViolations = [];
  addEventListener('securitypolicyviolation', (e) => cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`;

/** Records the engine method of every call the tab sends over its port, with its batch size. */
const RECORD_CALLS = `globalThis.engineCalls = [];
  const post = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (message, ...rest) {
    if (message?.type === 'APPLY' && String(message.path).startsWith('execute'))
      engineCalls.push(message.path.join('.') + ' ' + (message.argumentList?.[0]?.value?.length ?? 1));
    return post.call(this, message, ...rest);
  };`;

/**
 * Counts the messages the tab posts on any port (to the engine, or answering it), but React's
 * scheduler's own (null, to a port of its own).
 */
const RECORD_POSTS = `globalThis.posts = 0;
  const post = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (...args) {
    if (args[0] !== null) posts++;
    return post.apply(this, args);
  };`;

const cspViolations = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { cspViolations: string[] }).cspViolations);

async function openTab(init?: string): Promise<Page> {
  const page = await context.newPage();
  await page.addInitScript(RECORD_CSP);
  if (init) await page.addInitScript(init);
  await page.goto(server.url);
  await page.getByLabel('Counter name', { exact: true }).waitFor();
  return page;
}

/**
 * Clicks `Increment name` n times as fast as the page takes them. Real mouse clicks, but without
 * Playwright's wait for a stable frame: a background tab gets few frames, and the point here is
 * two tabs writing at once.
 */
async function hammer(page: Page, name: string, n: number): Promise<void> {
  const button = page.getByRole('button', { name: `Increment ${name}`, exact: true });
  await button.waitFor();
  for (let i = 0; i < n; i++) await button.click({ force: true });
}

const transport = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { tally: { transport: string } }).tally.transport);

describe('two tabs, one engine (SharedWorker)', () => {
  it('200 interleaved increments from two tabs land exactly once, in order, and survive reopening', async () => {
    context = await browser.newContext();
    const [a, b] = [await openTab(), await openTab()];
    expect(await transport(a)).toBe('shared-worker');
    await addCounter(a, 'Shared');
    await expectCount(b, 'Shared', 0);
    await Promise.all([hammer(a, 'Shared', 100), hammer(b, 'Shared', 100)]);
    await expectCount(a, 'Shared', 200);
    await expectCount(b, 'Shared', 200);
    const history = await historyOf(b, 'Shared');
    expect(history.map((h) => h.version)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
    expect(history.map((h) => h.value)).toEqual(Array.from({ length: 201 }, (_, i) => i));

    expect(await cspViolations(a)).toEqual([]);
    expect(await cspViolations(b)).toEqual([]);
    // Cross-origin isolated (COOP and COEP), and the engine still shared by both tabs.
    expect(await a.evaluate(() => crossOriginIsolated)).toBe(true);
    const response = await a.reload();
    expect(response?.headers()['content-security-policy']).toContain("default-src 'self'");
    await expectCount(a, 'Shared', 200);
    // Close every tab: the SharedWorker goes away; IndexedDB keeps everything.
    await a.close();
    await b.close();
    const c = await openTab();
    await expectCount(c, 'Shared', 200);
    await hammer(c, 'Shared', 1);
    await expectCount(c, 'Shared', 201);
  });

  it('a rejection shows its message next to its counter and changes nothing', async () => {
    context = await browser.newContext();
    const [a, b] = [await openTab(), await openTab()];
    await addCounter(a, 'Tea');
    // − is off at zero, and its description says why.
    const minus = a.getByRole('button', { name: 'Decrement Tea', exact: true });
    expect(await minus.isDisabled()).toBe(true);
    const why = await minus.evaluate(
      (button) =>
        document.getElementById(button.getAttribute('aria-describedby') ?? '')?.textContent,
    );
    expect(why).toBe('Tea is at zero: a count cannot go below it.');

    // The model refuses counting past its largest value: told on the card, nothing changes.
    await openMore(a, 'Tea');
    await a.getByLabel('New value for Tea', { exact: true }).fill('1000000000');
    await a.getByRole('button', { name: 'Set Tea', exact: true }).click();
    await expectCount(b, 'Tea', 1_000_000_000);
    await a.getByRole('button', { name: 'Increment Tea', exact: true }).click();
    const card = a.locator('[data-counter]', { hasText: 'Tea' });
    await card.getByRole('alert').filter({ hasText: 'cannot count past 1,000,000,000' }).waitFor();
    // Not at the top of the page: the page's own alert stays empty.
    expect(await a.locator('main > [role=alert]').textContent()).toBe('');
    expect(await countOf(b, 'Tea')).toBe(1_000_000_000);

    // A name already taken is refused under the form that tried it.
    await a.getByLabel('Counter name', { exact: true }).fill('tea');
    await a.getByRole('button', { name: 'Add counter', exact: true }).click();
    await a
      .locator('main > [role=alert]')
      .filter({ hasText: 'There is already a counter named “tea”.' })
      .waitFor();
    await a.getByLabel('New value for Tea', { exact: true }).fill('0');
    await a.getByRole('button', { name: 'Set Tea', exact: true }).click();
    await a.getByRole('button', { name: 'Add 2 to Tea', exact: true }).click();
    await expectCount(b, 'Tea', 2);
    expect(await a.getByRole('list', { name: 'Counters' }).locator(':scope > li').count()).toBe(1);
    expect((await historyOf(b, 'Tea')).map((h) => h.value)).toEqual([0, 1_000_000_000, 0, 1, 2]);
    expect(await countOf(a, 'Tea')).toBe(2);
  });

  it('sends the commands of one task together and answers each as if it had gone alone', async () => {
    context = await browser.newContext();
    const page = await openTab(RECORD_CALLS);
    await addCounter(page, 'Batch');
    await addCounter(page, 'Empty');
    const [batch, empty] = [await counterIdOf(page, 'Batch'), await counterIdOf(page, 'Empty')];
    const answers = await page.evaluate(
      async ([batch, empty]) => {
        const { tally, engineCalls } = globalThis as unknown as {
          tally: { execute(s: string, c: object): Promise<{ type: string; version?: number }> };
          engineCalls: string[];
        };
        const answer = (p: Promise<{ type: string; version?: number; reason?: string }>) =>
          p.then(
            (r) => `${r.type} ${r.version ?? r.reason}`,
            (e: { code: string; message: string }) => `failed ${e.code}: ${e.message}`,
          );
        // Odd ones among them: a stream of no model, a command its model does not know, and
        // one its rules refuse.
        const odd = () => [
          answer(tally.execute('widget-1', { type: 'increment' })),
          answer(tally.execute(batch, { type: 'explode' })),
          answer(tally.execute(empty, { type: 'decrement' })),
        ];
        engineCalls.length = 0;
        const together = await Promise.all([
          ...Array.from({ length: 1_001 }, () =>
            answer(tally.execute(batch, { type: 'increment' })),
          ),
          ...odd(),
        ]);
        const calls = [...engineCalls];
        // The same odd ones, each alone in its own task.
        const alone = [];
        for (const one of odd()) alone.push(await one);
        return { together, calls, alone };
      },
      [batch, empty] as const,
    );
    // One message each way per 250 commands (the store's transaction), not one per command.
    expect(answers.calls).toEqual([
      ...Array.from({ length: 4 }, () => 'executeMany 250'),
      'executeMany 4',
    ]);
    expect(answers.together.slice(0, 1_001)).toEqual(
      Array.from({ length: 1_001 }, (_, i) => `accepted ${i + 2}`),
    );
    expect(answers.together.slice(1_001)).toEqual(answers.alone);
    expect(answers.alone[0]).toMatch(/^failed invalid: /);
    expect(answers.alone[2]).toMatch(/^rejected /);
    await expectCount(page, 'Batch', 1_001);
    await expectCount(page, 'Empty', 0);
  });

  it('a command the browser cannot send fails alone, though it was issued with others', async () => {
    context = await browser.newContext();
    const page = await openTab(RECORD_CALLS);
    await addCounter(page, 'Clone');
    const stream = await counterIdOf(page, 'Clone');
    const answers = await page.evaluate(async (stream) => {
      const { tally } = globalThis as unknown as {
        tally: { execute(s: string, c: object): Promise<{ type: string; version?: number }> };
      };
      const answer = (p: Promise<{ type: string; version?: number }>) =>
        p.then(
          (r) => `${r.type} ${r.version}`,
          (e: Error) => `${e.name}`,
        );
      return Promise.all([
        answer(tally.execute(stream, { type: 'increment' })),
        // A function cannot cross to the worker.
        answer(tally.execute(stream, { type: 'increment', by: () => 2 })),
        answer(tally.execute(stream, { type: 'increment' })),
      ]);
    }, stream);
    expect(answers).toEqual(['accepted 2', 'DataCloneError', 'accepted 3']);
    await expectCount(page, 'Clone', 2);
  });

  it('a tab closed in the middle of a burst loses nothing that was committed and writes nothing twice', async () => {
    context = await browser.newContext();
    const [a, b] = [await openTab(), await openTab()];
    await addCounter(a, 'Burst');
    const stream = await counterIdOf(a, 'Burst');
    // Fire 300 commands without waiting for any, and close the tab while they are in flight.
    await a.evaluate((stream) => {
      const tally = (
        globalThis as unknown as { tally: { execute(s: string, c: object): Promise<unknown> } }
      ).tally;
      for (let i = 0; i < 300; i++)
        void tally.execute(stream, { type: 'increment' }).catch(() => undefined);
    }, stream);
    await a.close();
    // Whatever the engine took is committed once, in order; the other tab sees exactly that
    // (the engine may still be finishing what it took: wait until list and history agree).
    const settled = async () => {
      const before = await countOf(b, 'Burst');
      const entries = await historyOf(b, 'Burst');
      const after = await countOf(b, 'Burst');
      return before === after && entries.length - 1 === after && entries.at(-1)?.value === after;
    };
    await expect.poll(settled, { timeout: 20_000 }).toBe(true);
    const history = await historyOf(b, 'Burst');
    const value = await countOf(b, 'Burst');
    expect(history.map((h) => h.version)).toEqual(
      Array.from({ length: value + 1 }, (_, i) => i + 1),
    );
    expect(history.at(-1)?.value).toBe(value);
    expect(value).toBeLessThanOrEqual(300);
    await b.reload();
    await expectCount(b, 'Burst', value);
  });

  it('renames, and shows the new name in every tab', async () => {
    context = await browser.newContext();
    const [a, b] = [await openTab(), await openTab()];
    await addCounter(a, 'Laps');
    await openMore(a, 'Laps');
    await a.getByRole('button', { name: 'Rename Laps', exact: true }).click();
    await a.getByLabel('New name for Laps', { exact: true }).fill('Pool laps');
    await a.keyboard.press('Enter');
    await expectCount(b, 'Pool laps', 0);
  });

  it('a tab keeps one subscription per view: its list arrives before React asks, and later watchers get it at once', async () => {
    context = await browser.newContext();
    const a = await openTab();
    await addCounter(a, 'Early');
    // The app's first script asked for the list: the rows are in the tab's client.
    const b = await openTab();
    const names = () =>
      b.evaluate(() => {
        const { tally } = globalThis as unknown as {
          tally: { viewRows(view: string): ReadonlyMap<string, { name: string }> | undefined };
        };
        return [...(tally.viewRows('counters')?.values() ?? [])].map((row) => row.name);
      });
    expect(await names()).toEqual(['Early']);
    // A watcher that comes later is answered from what the tab holds, without a round trip.
    const seen = await b.evaluate(async () => {
      type Update = { type: string; reset?: boolean; rows?: { value: { name: string } }[] };
      const { tally } = globalThis as unknown as {
        tally: { subscribe(request: object, onUpdate: (u: Update) => void): () => void };
      };
      const updates: Update[] = [];
      const stop = tally.subscribe({ topic: 'view', view: 'counters' }, (u) => updates.push(u));
      await Promise.resolve();
      const atOnce = updates.map((u) => ({
        reset: u.reset,
        names: u.rows?.map((r) => r.value.name),
      }));
      (globalThis as unknown as { stopLate: () => void }).stopLate = stop;
      (globalThis as unknown as { lateUpdates: Update[] }).lateUpdates = updates;
      return atOnce;
    });
    expect(seen).toEqual([{ reset: true, names: ['Early'] }]);
    // Changes reach the tab's rows and the late watcher; it leaving keeps the list's own.
    await addCounter(a, 'Later');
    await expect
      .poll(() =>
        b.evaluate(() =>
          (
            globalThis as unknown as { lateUpdates: { rows?: { value: { name: string } }[] }[] }
          ).lateUpdates.flatMap((u) => u.rows?.map((r) => r.value.name) ?? []),
        ),
      )
      .toContain('Later');
    await b.evaluate(() => (globalThis as unknown as { stopLate: () => void }).stopLate());
    await a.getByRole('button', { name: 'Increment Later', exact: true }).click();
    await expectCount(b, 'Later', 1);
    expect((await names()).sort()).toEqual(['Early', 'Later']);
  });

  it('the engine posts updates one way: a count is one message out of the tab, and an ended watcher hears nothing more', async () => {
    context = await browser.newContext();
    const a = await openTab(RECORD_POSTS);
    await addCounter(a, 'Quiet');
    const stream = await counterIdOf(a, 'Quiet');
    const heard = await a.evaluate(async (stream) => {
      type Update = { type: string; reset?: boolean; entries?: unknown[] };
      const page = globalThis as unknown as {
        tally: {
          subscribe(request: object, onUpdate: (u: Update) => void): () => void;
          execute(stream: string, commands: object): Promise<{ type: string }>;
        };
        posts: number;
      };
      const { tally } = page;
      // Two watchers of the counter's history, each with its first entries.
      const kept: Update[] = [];
      const ended: Update[] = [];
      const watch = (updates: Update[]) => {
        let heard!: () => void;
        const first = new Promise<void>((resolve) => (heard = resolve));
        const end = tally.subscribe({ topic: 'history', stream }, (u) => {
          updates.push(u);
          heard();
        });
        return { end, first };
      };
      const stays = watch(kept);
      const leaves = watch(ended);
      await Promise.all([stays.first, leaves.first]);
      const end = leaves.end;
      end();
      // (Its end is sent to the engine before this first count's command.)
      await tally.execute(stream, { type: 'increment' });
      // Nine counts with the list and a history watched: the tab sends its nine commands and
      // nothing else (a watcher answering each update would triple that).
      const before = page.posts;
      for (let i = 0; i < 9; i++) await tally.execute(stream, { type: 'increment' });
      const sent = page.posts - before;
      // Every count reached the watcher that stayed; the one that ended heard none of them.
      const counted = () => kept.flatMap((u) => u.entries ?? []).length;
      const start = performance.now();
      while (counted() < 11 && performance.now() - start < 10_000)
        await new Promise((resolve) => setTimeout(resolve, 10));
      return { sent, kept: counted(), ended: ended.flatMap((u) => u.entries ?? []).length };
    }, stream);
    expect(heard).toEqual({ sent: 9, kept: 11, ended: 1 });
    await expectCount(a, 'Quiet', 10);
  });
});

describe('updates that come in a backlog', () => {
  it('a tab that was busy renders the counts that queued up meanwhile together, not one by one', async () => {
    context = await browser.newContext();
    const watching = await openTab(RECORD_RENDERS);
    const counting = await openTab();
    await addCounter(counting, 'Laps');
    await expectCount(watching, 'Laps', 0);
    await takeCommits(watching);
    // The watching tab's thread is busy for a moment (a long task); the other tab counts 20 times
    // meanwhile, each count a transaction and an update of its own, queued in the busy tab.
    await counting.evaluate(() => {
      const channel = new BroadcastChannel('backlog-test');
      (globalThis as unknown as { busy: Promise<unknown> }).busy = new Promise(
        (resolve) => (channel.onmessage = resolve),
      );
    });
    const busy = watching.evaluate(() => {
      const channel = new BroadcastChannel('backlog-test');
      channel.postMessage('busy');
      const end = performance.now() + 1_500;
      while (performance.now() < end);
      channel.close();
    });
    const sent = await counting.evaluate(
      async (stream) => {
        const page = globalThis as unknown as {
          busy: Promise<unknown>;
          tally: { execute(stream: string, command: object): Promise<{ type: string }> };
        };
        await page.busy;
        const start = performance.now();
        for (let i = 0; i < 20; i++) await page.tally.execute(stream, { type: 'increment' });
        return performance.now() - start;
      },
      await counterIdOf(counting, 'Laps'),
    );
    // All 20 were answered while the other tab was still busy.
    expect(sent).toBeLessThan(1_000);
    await busy;
    await expectCount(watching, 'Laps', 20);
    // The first update after the long task renders at once; those queued behind it are left to
    // React, which renders them together (one synchronous render each: 20 commits).
    const shown = (await takeCommits(watching)).filter((commit) => commit.cards.length > 0);
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThanOrEqual(4);
    expect(shown.at(-1)?.numbers['Laps']).toBe('20');
  });
});

describe('without SharedWorker: a leader tab runs the engine', () => {
  it('two tabs agree through the leader, and a follower takes over when the leader closes mid-run', async () => {
    context = await browser.newContext();
    const leader = await openTab(NO_SHARED_WORKER);
    const follower = await openTab(NO_SHARED_WORKER);
    expect(await transport(leader)).toBe('leader');
    await addCounter(leader, 'Fallback');
    await expectCount(follower, 'Fallback', 0);
    await Promise.all([hammer(leader, 'Fallback', 100), hammer(follower, 'Fallback', 100)]);
    await expectCount(leader, 'Fallback', 200);
    await expectCount(follower, 'Fallback', 200);

    // The follower keeps clicking while the leader tab goes away.
    const clicking = hammer(follower, 'Fallback', 60);
    await leader.close();
    await clicking;
    await expectCount(follower, 'Fallback', 260);
    const third = await openTab(NO_SHARED_WORKER);
    await expectCount(third, 'Fallback', 260);
    const history = await historyOf(third, 'Fallback');
    expect(history.map((h) => h.version)).toEqual(Array.from({ length: 261 }, (_, i) => i + 1));
  });

  it('a leader answers a call it does not know (a newer tab’s) as refused, in words, instead of dropping it', async () => {
    context = await browser.newContext();
    const leader = await openTab(NO_SHARED_WORKER);
    const follower = await openTab(NO_SHARED_WORKER);
    expect(await transport(leader)).toBe('leader');
    // A tab of a newer build asks for a method this one does not have.
    const reply = await follower.evaluate(
      () =>
        new Promise<unknown>((resolve) => {
          const channel = new BroadcastChannel('tally-tabs');
          channel.onmessage = ({ data }) => {
            if (data?.kind === 'reply' && data.to === 'newer-tab-0001') resolve(data);
          };
          channel.postMessage({
            kind: 'call',
            from: 'newer-tab-0001',
            id: 7,
            method: 'countEverything',
            args: [],
          });
        }),
    );
    expect(reply).toMatchObject({
      kind: 'reply',
      to: 'newer-tab-0001',
      id: 7,
      ok: false,
      error: { code: 'outdated', message: expect.stringMatching(/different versions/) },
    });
  });

  it('a command a follower cannot send fails alone, and the next leader still serves that tab', async () => {
    context = await browser.newContext();
    const leader = await openTab(NO_SHARED_WORKER);
    const next = await openTab(NO_SHARED_WORKER);
    const follower = await openTab(NO_SHARED_WORKER);
    await addCounter(leader, 'Handover');
    const stream = await counterIdOf(follower, 'Handover');
    const failed = await follower.evaluate(
      (stream) =>
        (
          globalThis as unknown as { tally: { execute(s: string, c: object): Promise<unknown> } }
        ).tally
          .execute(stream, { type: 'increment', by: () => 2 })
          .then(
            () => 'sent',
            (e: Error) => e.name,
          ),
      stream,
    );
    expect(failed).toBe('DataCloneError');
    // The leader goes; the next tab leads, and the follower's view and commands go on there.
    await leader.close();
    await hammer(next, 'Handover', 2);
    await expectCount(follower, 'Handover', 2);
    await hammer(follower, 'Handover', 1);
    await expectCount(next, 'Handover', 3);
  });

  it('a burst a follower sends is applied once each, though the leader closes before answering', async () => {
    context = await browser.newContext();
    // The leader commits the follower's commands but its answers never leave it: the follower
    // must send them again to the next leader, which must not apply them twice.
    const leader = await openTab(`${NO_SHARED_WORKER}
      const post = BroadcastChannel.prototype.postMessage;
      BroadcastChannel.prototype.postMessage = function (message) {
        if (message?.kind === 'reply' && globalThis.dropReplies) return;
        return post.call(this, message);
      };`);
    // Each command its own call through the leader (app/engine-client.ts `together`): a call
    // the leader took and never answered is sent again, and the next leader tells a command it
    // already applied only among its stream's latest events.
    const follower = await openTab(`${NO_SHARED_WORKER}
      globalThis.sentMethods = [];
      const send = BroadcastChannel.prototype.postMessage;
      BroadcastChannel.prototype.postMessage = function (message) {
        if (message?.kind === 'call') sentMethods.push(message.method);
        return send.call(this, message);
      };`);
    await addCounter(leader, 'Relay');
    const stream = await counterIdOf(follower, 'Relay');
    await leader.evaluate(() => ((globalThis as { dropReplies?: boolean }).dropReplies = true));
    // 400 commands from one task.
    await follower.evaluate((stream) => {
      const { tally } = globalThis as unknown as {
        tally: { execute(s: string, c: object): Promise<{ type: string }> };
      };
      (globalThis as unknown as { burst: Promise<string[]> }).burst = Promise.all(
        Array.from({ length: 400 }, () =>
          tally.execute(stream, { type: 'increment' }).then(
            (r) => r.type,
            (e: Error) => e.message,
          ),
        ),
      );
    }, stream);
    await expectCount(follower, 'Relay', 400);
    await leader.close();
    const answers = await follower.evaluate(
      () => (globalThis as unknown as { burst: Promise<string[]> }).burst,
    );
    expect(answers).toEqual(Array.from({ length: 400 }, () => 'accepted'));
    const sent = await follower.evaluate(
      () => (globalThis as unknown as { sentMethods: string[] }).sentMethods,
    );
    expect(sent.filter((method) => method === 'execute').length).toBeGreaterThanOrEqual(400);
    expect(sent).not.toContain('executeMany');
    await expectCount(follower, 'Relay', 400);
    const history = await historyOf(follower, 'Relay');
    expect(history.map((h) => h.version)).toEqual(Array.from({ length: 401 }, (_, i) => i + 1));
  });
});

it('a card archived in another tab takes neither keyboard focus nor the offer to undo with it', async () => {
  context = await browser.newContext();
  const a = await openTab();
  const b = await openTab();
  await addCounter(a, 'Water');
  await addCounter(a, 'Tea');
  await expectCount(b, 'Tea', 0);
  // In a, with the keyboard: + on Water, focus staying there.
  await a.getByRole('button', { name: 'Increment Water', exact: true }).focus();
  await a.keyboard.press('Enter');
  await expectCount(a, 'Water', 1);
  const offer = a.getByRole('status', { name: 'Last change' });
  await expect.poll(() => offer.textContent()).toContain('+1 on Water');

  await openMore(b, 'Water');
  await b.getByRole('button', { name: 'Archive Water', exact: true }).click();
  await a.getByLabel('Water count', { exact: true }).waitFor({ state: 'detached' });
  // Focus moves to the same control of the next card; the offer goes with its counter.
  await a.waitForFunction(
    () => document.activeElement?.getAttribute('aria-label') === 'Increment Tea',
  );
  await offer.waitFor({ state: 'detached' });
});
