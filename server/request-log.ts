import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';

export type RequestLogLine = {
  readonly time: string;
  readonly method: string;
  /** The path only: query strings may carry a token (`/live?token=`) and never reach a log. */
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

export function requestLog(log: RequestLog): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const start = performance.now();
    await next();
    const errorCode = c.get('errorCode');
    log({
      time: new Date().toISOString(),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - start) * 10) / 10,
      ...(errorCode ? { error: errorCode } : {}),
    });
  };
}
