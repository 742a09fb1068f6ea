import { CounterEngine, type EngineOptions } from '../../worker/engine.ts';
import type { TallyDatabase } from '../../worker/idb-schema.ts';

let seq = 0;

/** A fresh engine on its own fake-indexeddb database. */
export function openEngine(options: Partial<EngineOptions> = {}): Promise<CounterEngine> {
  return CounterEngine.open({
    dbName: `tally-test-${process.pid}-${++seq}-${Math.random().toString(36).slice(2)}`,
    device: 'device-test-1',
    ...options,
  });
}

/** Every record of every object store, in key order: for byte-for-byte comparisons. */
export async function dumpDatabase(db: TallyDatabase): Promise<string> {
  const out: Record<string, unknown[]> = {};
  for (const name of db.objectStoreNames) out[name] = await db.getAll(name);
  return JSON.stringify(out);
}

export const counterId = (n: number | string): string => `counter-c${String(n).padStart(7, '0')}`;
