import { afterEach } from 'vitest';
import { counterList, type CounterRow } from '../../core/models/counter/projections.ts';
import { Engine, type EngineOptions } from '../../worker/engine.ts';
import type { TallyDatabase } from '../../worker/idb-schema.ts';

let seq = 0;

/** A fresh engine on its own fake-indexeddb database. */
export function openEngine(options: Partial<EngineOptions> = {}): Promise<Engine> {
  return Engine.open({
    dbName: `tally-test-${process.pid}-${++seq}-${Math.random().toString(36).slice(2)}`,
    device: 'device-test-1',
    ...options,
  });
}

/**
 * Opens engines for a test file and closes every one after each test (registers `afterEach`):
 * call it at the top of the file, then `await open()` inside tests.
 */
export function engineFixture(): (options?: Partial<EngineOptions>) => Promise<Engine> {
  const opened: Engine[] = [];
  afterEach(() => {
    for (const engine of opened.splice(0)) engine.close();
  });
  return async (options) => {
    const engine = await openEngine(options);
    opened.push(engine);
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
