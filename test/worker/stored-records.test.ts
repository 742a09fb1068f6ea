import { afterEach, describe, expect, it } from 'vitest';
import type { CounterEngine } from '../../worker/engine.ts';
import { readCursor, readPush, readSyncConfig } from '../../worker/outbox.ts';
import { counterId, dumpDatabase, openEngine } from '../helpers/engine.ts';

const engines: CounterEngine[] = [];
afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
});

const open = async () => {
  const engine = await openEngine();
  engines.push(engine);
  return engine;
};

describe('the engine’s own records, read back', () => {
  it('a damaged pending command is named, and nothing is pushed or rewritten', async () => {
    const engine = await open();
    await engine.execute(counterId(1), { type: 'create', name: 'Pending' });
    const [row] = await engine.db.getAll('outbox');
    await engine.db.put('outbox', { ...row!, events: 'lots' as never });
    const before = await dumpDatabase(engine.db);
    const decode = (record: unknown) => engine.store.decodeRecord(record);
    await expect(readPush(engine.db, decode)).rejects.toThrow(
      /A stored pending command is damaged/,
    );
    expect(await dumpDatabase(engine.db)).toBe(before);
  });

  it('damaged sync settings and cursor are named, not used', async () => {
    const engine = await open();
    await engine.db.put('meta', {
      key: 'sync',
      origin: 'javascript:alert(1)',
      space: 'x',
      token: 'y',
    });
    await expect(readSyncConfig(engine.db)).rejects.toThrow(/sync settings is damaged/);
    await engine.db.put('meta', { key: 'cursor', space: 'space-0000000000000', cursor: '../../' });
    await expect(readCursor(engine.db, 'space-0000000000000')).rejects.toThrow(
      /feed cursor is damaged/,
    );
  });
});
