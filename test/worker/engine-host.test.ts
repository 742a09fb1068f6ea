import { afterEach, describe, expect, it } from 'vitest';
import { openDB } from 'idb';
import type { EngineUpdate } from '../../core/engine-protocol.ts';
import { EngineHost } from '../../worker/engine-host.ts';

// The engine's host as a SharedWorker tab reaches it, in Node over fake-indexeddb: each
// subscription's updates on a port of its own, posted one way.

let seq = 0;
const hosts: EngineHost[] = [];
afterEach(async () => {
  // Its way of stopping (a newer build took over): the engine stops, its lock and channel close.
  for (const host of hosts.splice(0))
    await (host as unknown as { retire(): Promise<void> }).retire();
});

function openHost(): EngineHost {
  const host = new EngineHost({
    dbName: `tally-host-${process.pid}-${++seq}`,
    build: 'test-build',
    host: 'shared-worker',
  });
  hosts.push(host);
  return host;
}

/** A tab's end of a subscription's port: the updates it hears, and whether the engine closed it. */
function tabEnd() {
  const { port1, port2 } = new MessageChannel();
  const updates: EngineUpdate[] = [];
  const waiting: (() => void)[] = [];
  let closed = false;
  port1.addEventListener('message', (event) => {
    updates.push((event as MessageEvent<EngineUpdate>).data);
    for (const wake of waiting.splice(0)) wake();
  });
  port1.addEventListener('close', () => {
    closed = true;
    for (const wake of waiting.splice(0)) wake();
  });
  port1.start();
  /** Resolves once `ready()` holds (an update came, or the port closed); fails after 5 s. */
  const until = (ready: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}.`)), 5_000);
      const check = () => {
        if (!ready()) return void waiting.push(check);
        clearTimeout(timer);
        resolve();
      };
      check();
    });
  return { port: port2, updates, closed: () => closed, until, end: () => port1.close() };
}

const names = (update: EngineUpdate | undefined) =>
  update?.type === 'view' ? update.rows.map(({ value }) => (value as { name: string }).name) : [];

describe('EngineHost subscriptions over a port', () => {
  it('posts a view on the port, each commit after it, and closes the port when it ends', async () => {
    const host = openHost();
    const session = host.session();
    const tab = tabEnd();
    const id = await session.subscribe({ topic: 'view', view: 'counters' }, tab.port);
    await tab.until(() => tab.updates.length === 1, 'the view');
    expect(tab.updates[0]).toMatchObject({ type: 'view', view: 'counters', reset: true, rows: [] });

    await session.execute({
      stream: 'counter-port-1',
      commands: [{ type: 'create', name: 'Water' }],
      commandId: 'command-port-1',
    });
    await tab.until(() => tab.updates.length === 2, 'the new row');
    expect(names(tab.updates[1])).toEqual(['Water']);

    await session.unsubscribe(id);
    await tab.until(tab.closed, 'the engine to close the port');
    await session.execute({
      stream: 'counter-port-1',
      commands: [{ type: 'increment' }],
      commandId: 'command-port-2',
    });
    expect(tab.updates).toHaveLength(2);
  });

  it('refuses a subscription it cannot serve, or given no port or callback, and closes that port', async () => {
    const session = openHost().session();
    const tab = tabEnd();
    await expect(session.subscribe({ topic: 'view', view: 'nothing' }, tab.port)).rejects.toThrow(
      /no view named/,
    );
    await tab.until(tab.closed, 'the refused port to close');
    await expect(
      session.subscribe({ topic: 'view', view: 'counters' }, {} as unknown as MessagePort),
    ).rejects.toThrow(/needs a port or a callback/);
  });

  it('ends a subscription whose tab went away while it was being made', async () => {
    const host = openHost();
    const session = host.session();
    // A history waits for the engine and the stream's events: the tab closes meanwhile.
    const tab = tabEnd();
    const subscribed = session.subscribe({ topic: 'history', stream: 'counter-gone-1' }, tab.port);
    session.end();
    await subscribed;
    await tab.until(tab.closed, 'the port of the ended session to close');
    // A tab still here hears the next commit; the gone one nothing after its first history.
    const other = host.session();
    const here = tabEnd();
    await other.subscribe({ topic: 'history', stream: 'counter-gone-1' }, here.port);
    const heardByGone = tab.updates.length;
    await other.execute({
      stream: 'counter-gone-1',
      commands: [{ type: 'create', name: 'Laps' }],
      commandId: 'command-gone-1',
    });
    await here.until(() => here.updates.length === 2, 'the history line');
    expect(tab.updates).toHaveLength(heardByGone);
  });

  it('still calls a callback where one is given (a leader tab’s engine)', async () => {
    const session = openHost().session();
    const heard: EngineUpdate[] = [];
    await session.subscribe({ topic: 'view', view: 'counters' }, (update) => heard.push(update));
    expect(heard).toHaveLength(1);
    expect(heard[0]).toMatchObject({ type: 'view', reset: true });
  });
});

describe('EngineHost keeps the list’s first screen', () => {
  /** The position the kept first screen is true at, as stored (undefined: none kept). */
  const keptAt = async (dbName: string): Promise<number | undefined> => {
    const db = await openDB(dbName);
    try {
      const record = (await db.get('meta', 'firstScreen')) as { position?: number } | undefined;
      return record?.position;
    } finally {
      db.close();
    }
  };

  it('after a second of quiet, and at least every five seconds while commands never stop', async () => {
    const host = openHost();
    const dbName = `tally-host-${process.pid}-${seq}`;
    const session = host.session();
    let n = 0;
    const command = (commands: Record<string, unknown>[]) =>
      session.execute({ stream: 'counter-kept-1', commands, commandId: `command-kept-${++n}` });
    await command([{ type: 'create', name: 'Water' }]);
    const quiet = performance.now();
    let first: number | undefined;
    while (first === undefined && performance.now() - quiet < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      first = await keptAt(dbName);
    }
    // Kept once the list was quiet for a second, not before.
    expect(first).toBeGreaterThan(0);
    expect(performance.now() - quiet).toBeGreaterThanOrEqual(1_000);

    // A count every 100 ms, for up to 8 s: never a second of quiet, yet kept again within
    // about five seconds of the first count.
    const counting = performance.now();
    let again: number | undefined;
    while (performance.now() - counting < 8_000) {
      await command([{ type: 'increment' }]);
      const at = await keptAt(dbName);
      if (at !== undefined && at > first!) {
        again = performance.now() - counting;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(again).toBeGreaterThanOrEqual(4_900);
    expect(again).toBeLessThan(7_000);
  }, 20_000);
});
