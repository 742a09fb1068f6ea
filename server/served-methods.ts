import type { MiddlewareHandler } from 'hono';
import type { RouterRoute } from 'hono/types';
import { MethodNotAllowed } from './errors.ts';

type Served = { readonly pattern: RegExp; readonly methods: readonly string[] };

/** `/api/spaces/:space/push` → /^\/api\/spaces\/[^/]+\/push$/ */
const patternOf = (path: string): RegExp =>
  new RegExp(
    `^${path
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/')}$`,
  );

/**
 * Answers a request for a route with a method the route does not serve (HEAD included) with 405
 * and `Allow`, before any handler runs. The table is read from the app's own routes on first use,
 * so a route added later is covered without being listed twice.
 */
export function servedMethods(routes: () => readonly RouterRoute[]): MiddlewareHandler {
  let served: Served[] | undefined;
  const build = (): Served[] => {
    const byPath = new Map<string, Set<string>>();
    // Middleware is registered as ALL; only handlers of one method are routes.
    for (const { method, path } of routes())
      if (method !== 'ALL') byPath.set(path, (byPath.get(path) ?? new Set()).add(method));
    return [...byPath].map(([path, methods]) => ({
      pattern: patternOf(path),
      methods: [...methods],
    }));
  };
  return async function servedMethods(c, next) {
    served ??= build();
    const { method, path } = c.req;
    const route = served.find(({ pattern }) => pattern.test(path));
    if (route && !route.methods.includes(method)) throw new MethodNotAllowed(method, route.methods);
    await next();
  };
}
