import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { TallyError, type ErrorCode } from '../core/errors.ts';
import type { ErrorBody } from '../core/protocol.ts';

/** Redis failed under a request: 503 in words (a TallyError already says what went wrong). */
export const unavailable = (cause: unknown): TallyError =>
  cause instanceof TallyError
    ? cause
    : new TallyError(
        'unavailable',
        'The sync server cannot reach its database right now. Try again shortly.',
        { cause },
      );

/** The one place where Tally's error codes become HTTP statuses. */
export const statusOf = {
  rejected: 422,
  conflict: 409,
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  unavailable: 503,
  'too-many-requests': 429,
  // The client speaks a protocol this server no longer accepts: it must update itself first.
  outdated: 426,
} as const satisfies Record<ErrorCode, ContentfulStatusCode>;

/**
 * A TallyError that carries a more precise status than its code's, for the few cases where HTTP
 * distinguishes what Tally calls simply `invalid` (413 too large, 415 not JSON).
 */
export class HttpError extends TallyError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: ContentfulStatusCode = statusOf[code],
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** 429, with how long to wait (`Retry-After`, RFC 9110 §10.2.3) in whole seconds. */
export class TooManyRequests extends HttpError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('too-many-requests', message);
  }
}

/**
 * 405, with the methods the resource does serve (`Allow`, required by RFC 9110 §15.5.6). HEAD is
 * among them only where a route says so: Hono answers HEAD by running the GET handler and
 * dropping its body, which for a stream means never ending it.
 */
export class MethodNotAllowed extends HttpError {
  constructor(
    method: string,
    readonly allow: readonly string[],
  ) {
    super(
      'invalid',
      `This address answers ${allow.join(', ')} only, not ${method.slice(0, 20)}.`,
      405,
    );
  }
}

export const payloadTooLarge = (limit: number): HttpError =>
  new HttpError('invalid', `The request body is larger than ${limit} bytes.`, 413);

export const unsupportedMediaType = (): HttpError =>
  new HttpError('invalid', 'The request body must be JSON (Content-Type: application/json).', 415);

const codeOfStatus = (status: number): ErrorCode => {
  for (const [code, known] of Object.entries(statusOf))
    if (known === status) return code as ErrorCode;
  return status >= 500 ? 'unavailable' : 'invalid';
};

/** What a thrown value becomes on the wire: a status and an `ErrorBody`. */
export function describeError(error: unknown): {
  status: ContentfulStatusCode;
  body: ErrorBody;
  unexpected: boolean;
} {
  if (error instanceof HttpError)
    return { status: error.status, body: { error: error.toJSON() }, unexpected: false };
  if (error instanceof TallyError)
    return { status: statusOf[error.code], body: { error: error.toJSON() }, unexpected: false };
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const message = error.message || 'The request could not be handled.';
    return {
      status,
      body: { error: { code: codeOfStatus(status), message } },
      unexpected: status >= 500,
    };
  }
  // A bug, not a state of the world: say so plainly, keep the details for the log.
  return {
    status: 500,
    body: { error: { code: 'unavailable', message: 'Something went wrong on the sync server.' } },
    unexpected: true,
  };
}

export const errorResponse = (c: Context, error: unknown): Response => {
  const { status, body } = describeError(error);
  return c.json(body, status);
};
