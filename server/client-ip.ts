import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

/**
 * The address of the peer that sent the request, for the per-address limits. Deliberately not
 * `X-Forwarded-For`: any client can write that header. Behind a reverse proxy every client shares
 * the proxy's address, so the per-address limits must then be raised (or done by the proxy).
 */
export function clientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // Not served by @hono/node-server (app.request in a test): no socket to ask.
    return 'unknown';
  }
}
