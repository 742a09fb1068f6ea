import { afterEach } from 'vitest';
import { counterList, type CounterRow } from '../../core/models/counter/projections.ts';
import { Engine, type EngineOptions } from '../../worker/engine.ts';
import type { TallyDatabase } from '../../worker/idb-schema.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import type { SyncSettings } from '../../core/sync-port.ts';

let seq = 0;

/** A fresh engine on its own fake-indexeddb database. */
export function openEngine(options: Partial<EngineOptions> = {}): Promise<Engine> {
  return Engine.open({
    dbName: `tally-test-${process.pid}-${++seq}-${Math.random().toString(36).slice(2)}`,
    device: 'device-test-1',
    ...options,
  });
}

/** Sync settings of a space no test server serves: a device that syncs, offline. */
export const testSpace: SyncSettings = {
  origin: 'http://127.0.0.1:9',
  space: 'space-tests-00001',
  token: 'token-of-this-device',
};

/**
 * Stores a space, as starting sync does: the outbox is made whole from the events and kept from
 * then on, at every start too (appends keep none while no space is stored: worker/outbox.ts).
 */
export async function storeSpace(
  engine: Engine,
  settings: SyncSettings = testSpace,
): Promise<void> {
  await new IndexedDBSyncStorage(engine).writeSettings(settings);
}

/**
 * Opens engines for a test file and closes every one after each test (registers `afterEach`):
 * call it at the top of the file, then `await open()` inside tests. `syncing`: each engine has a
 * space stored (`storeSpace`), as on a device that syncs.
 */
export function engineFixture(
  fixture: { readonly syncing?: boolean } = {},
): (options?: Partial<EngineOptions>) => Promise<Engine> {
  const opened: Engine[] = [];
  afterEach(() => {
    for (const engine of opened.splice(0)) engine.close();
  });
  return async (options) => {
    const engine = await openEngine(options);
    opened.push(engine);
    if (fixture.syncing) await storeSpace(engine);
    return engine;
  };
}

/** Every record of every object store, in key order: for byte-for-byte comparisons. */
export async function dumpDatabase(db: TallyDatabase): Promise<string> {
  const out: Record<string, unknown[]> = {};
  for (const name of db.objectStoreNames) out[name] = await db.getAll(name);
  return JSON.stringify(out);
}

export const counterId = (n: number | string): string => `counter-c${String(n).padStart(7, '0')}`;

/** The counter list read model, as the home screen shows it. */
export const listCounters = (engine: Engine): Promise<readonly CounterRow[]> =>
  engine.readView(counterList);
