import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import type { SyncStore } from '../redis-store.ts';

export type HealthBody = { readonly ok: boolean; readonly redis: 'up' | 'down' };

/** `GET /api/health` → 200 `{ ok: true, redis: 'up' }` or 503 `{ ok: false, redis: 'down' }`. */
export function healthRoute(options: { store: SyncStore | undefined }) {
  return new Hono<AppEnv>().get('/api/health', async (c) => {
    const up = (await options.store?.ping()) ?? false;
    const body: HealthBody = { ok: up, redis: up ? 'up' : 'down' };
    return c.json(body, up ? 200 : 503);
  });
}
