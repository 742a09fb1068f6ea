import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';

export type RequestLogLine = {
  readonly time: string;
  readonly method: string;
  /**
   * The path only: query strings may carry a token (`/live?token=`) and never reach a log; a
   * credential in the path itself (an invite being cancelled) is logged without its secret.
   */
  readonly path: string;
  readonly status: number;
  readonly ms: number;
  readonly error?: string;
};

/** Also receives the server's own events (Redis up or down), which have `event` instead. */
export type RequestLog = (line: RequestLogLine | ServerLogLine) => void;

export type ServerLogLine = {
  readonly time: string;
  readonly event: string;
  readonly message: string;
};

export const jsonLinesLog: RequestLog = (line) => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

/**
 * A credential's prefix, its space and its secret (auth.ts): a pairing invite
 * `p1.<space>.<secret>` is the last segment of `DELETE …/invites/:invite`, and a device token
 * `t1.<space>.<secret>` a client put in a path by mistake would be a segment too.
 */
const credential = /^([pt]1\.)(?:([A-Za-z0-9_-]{16,64})\.)?/;

/**
 * `path` with the secret of every credential in it cut (`p1.<space>.…`): a log is read by more
 * people, and kept longer, than an invite is meant to be, and an invite whose cancel failed is
 * still valid. Segments, not the whole path: a space's id alone opens nothing.
 */
export const loggedPath = (path: string): string =>
  path
    .split('/')
    .map((segment) => {
      const match = credential.exec(segment);
      return match ? `${match[1]}${match[2] ? `${match[2]}.` : ''}…` : segment;
    })
    .join('/');

export function requestLog(log: RequestLog): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const start = performance.now();
    await next();
    const errorCode = c.get('errorCode');
    log({
      time: new Date().toISOString(),
      method: c.req.method,
      path: loggedPath(c.req.path),
      status: c.res.status,
      ms: Math.round((performance.now() - start) * 10) / 10,
      ...(errorCode ? { error: errorCode } : {}),
    });
  };
}
