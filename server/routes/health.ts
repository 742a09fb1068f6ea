import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import type { MasterHealth } from '../redis-client.ts';
import type { SyncStore } from '../redis-store.ts';

export type HealthBody = {
  readonly ok: boolean;
  readonly redis: 'up' | 'down';
  /** Every master (one node: that node), so a Cluster with one shard down is not called up. */
  readonly masters: readonly MasterHealth[];
};

/**
 * `GET /api/health` → 200 `{ ok: true, redis: 'up', masters }` when every master answers, else
 * 503 `{ ok: false, redis: 'down', masters }`: with one master down, the spaces in its slots
 * cannot sync, and a load balancer should know.
 */
export function healthRoute(options: { store: SyncStore | undefined }) {
  return new Hono<AppEnv>().get('/api/health', async (c) => {
    const store = options.store;
    const masters = (await store?.masters?.()) ?? [];
    const up = store?.masters
      ? masters.length > 0 && masters.every((master) => master.redis === 'up')
      : ((await store?.ping()) ?? false);
    const body: HealthBody = { ok: up, redis: up ? 'up' : 'down', masters };
    return c.json(body, up ? 200 : 503);
  });
}
