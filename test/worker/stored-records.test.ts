import { describe, expect, it } from 'vitest';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { counterId, dumpDatabase, engineFixture } from '../helpers/engine.ts';

const open = engineFixture({ syncing: true });

describe('the engine’s own records, read back', () => {
  it('a damaged pending command is named, and nothing is pushed or rewritten', async () => {
    const engine = await open();
    await engine.execute(counterId(1), { type: 'create', name: 'Pending' });
    // The outbox entry is written behind the append: stored now, to be damaged.
    await engine.store.writeBehind();
    const [row] = await engine.db.getAll('outbox');
    await engine.db.put('outbox', { ...row!, events: 'lots' as never });
    const before = await dumpDatabase(engine.db);
    await expect(new IndexedDBSyncStorage(engine).readPush()).rejects.toThrow(
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
    await expect(new IndexedDBSyncStorage(engine).readSettings()).rejects.toThrow(
      /sync settings are damaged/,
    );
    await engine.db.put('meta', { key: 'cursor', space: 'space-0000000000000', cursor: '../../' });
    await expect(
      new IndexedDBSyncStorage(engine).readFeedCursor('space-0000000000000'),
    ).rejects.toThrow(/feed cursor is damaged/);
  });
});
