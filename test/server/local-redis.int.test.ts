import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startLocalRedis, type LocalRedisOptions } from '../../server/local-redis.ts';

/**
 * Issue 13, item 9: `npm start`'s own Redis used `appendfsync everysec` while the README's
 * reliability figures were measured with `always`. The default is `always`: an ack means the
 * events were fsynced to the append-only file.
 */
const appendfsyncOf = async (options: Partial<LocalRedisOptions>) => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-local-redis-'));
  const local = await startLocalRedis({ dir, ...options });
  const client = new Redis({ port: local.port, host: '127.0.0.1', lazyConnect: true });
  try {
    await client.connect();
    const [, value] = (await client.config('GET', 'appendfsync')) as [string, string];
    const [, appendonly] = (await client.config('GET', 'appendonly')) as [string, string];
    return { value, appendonly };
  } finally {
    client.disconnect();
    await local.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};

describe('npm start’s own redis-server', () => {
  it('fsyncs every write before answering by default', async () => {
    expect(await appendfsyncOf({})).toEqual({ value: 'always', appendonly: 'yes' });
  });

  it('takes everysec when asked', async () => {
    expect(await appendfsyncOf({ appendfsync: 'everysec' })).toEqual({
      value: 'everysec',
      appendonly: 'yes',
    });
  });
});
