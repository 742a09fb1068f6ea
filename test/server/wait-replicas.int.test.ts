import { describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../core/protocol.ts';
import { redisKeys } from '../../server/redis-store.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { auth, createSpace, events, push, pushBody, streamOf } from './fixtures.ts';

/**
 * Issue 16, item 4: TALLY_REDIS_WAIT_REPLICAS. One redis-server has no replica, so WAIT 1 never
 * succeeds here: each push that appends is stored and then answered 503, never acked; a retry
 * stores nothing twice. (The cluster's failover test has the replicas.)
 */
const sync = syncServerFixture({ server: { redisWaitReplicas: 1, redisWaitTimeoutMs: 50 } });

describe('waiting for replicas before an ack', () => {
  it('answers 503 when too few replicas confirm, storing the push once however often it is retried', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const sent = events(stream, 0, ['Created']);
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await push(sync.url, space, token, pushBody(stream, 0, sent));
      expect(response.status).toBe(503);
      expect(errorBodySchema.parse(await response.json()).error.message).toMatch(
        /only 0 of 1 Redis replicas confirmed/,
      );
    }
    expect(await sync.redis.client.llen(redisKeys.stream(space, stream))).toBe(1);
    expect(await sync.redis.client.xlen(redisKeys.feed(space))).toBe(1);
    // A conflict appends nothing, so it waits for no replica.
    const stale = await push(
      sync.url,
      space,
      token,
      pushBody(stream, 0, events(stream, 0, ['Created'])),
    );
    expect(stale.status).toBe(200);
  });

  it('a deletion forever waits for the replicas too: never answered done before they hold it', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    // Stored, though answered 503 (no replica confirms here).
    await push(
      sync.url,
      space,
      token,
      pushBody(stream, 0, events(stream, 0, ['Created', 'Archived'])),
    );
    expect(await sync.redis.client.llen(redisKeys.stream(space, stream))).toBe(2);
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await fetch(`${sync.url}/api/spaces/${space}/streams/${stream}`, {
        method: 'DELETE',
        headers: auth(token),
      });
      expect(response.status).toBe(503);
      expect(errorBodySchema.parse(await response.json()).error.message).toMatch(
        /only 0 of 1 Redis replicas confirmed/,
      );
    }
    // The tombstone once, whatever the retries.
    expect(await sync.redis.client.hexists(redisKeys.deleted(space), stream)).toBe(1);
    const feed = await sync.redis.client.xrange(redisKeys.feed(space), '-', '+');
    expect(feed.filter(([, fields]) => fields[1]!.includes('"Deleted"'))).toHaveLength(1);
  });
});
