/**
 * The one family of error codes in Tally. Each boundary (Comlink, HTTP) turns a TallyError into
 * its own shape exactly once; a user sees `message`, a sentence, never a stack.
 */
export const errorCodes = [
  'rejected',
  'conflict',
  'invalid',
  'unauthorized',
  'forbidden',
  'not-found',
  'unavailable',
  'too-many-requests',
  'outdated',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export type SerializedError = { readonly code: ErrorCode; readonly message: string };

export class TallyError extends Error {
  override readonly name = 'TallyError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (errorCodes as readonly string[]).includes(value);
}

/** Rebuilds an error that crossed a thread or network boundary as plain data. */
export function reviveError(value: unknown): TallyError {
  if (value instanceof TallyError) return value;
  if (typeof value === 'object' && value !== null) {
    const { code, message } = value as Record<string, unknown>;
    if (isErrorCode(code) && typeof message === 'string') return new TallyError(code, message);
  }
  return new TallyError('unavailable', 'Something went wrong inside Tally.', { cause: value });
}

/** Any thrown value as a TallyError, keeping the original as `cause`. */
export function toTallyError(error: unknown, fallback: ErrorCode = 'unavailable'): TallyError {
  if (error instanceof TallyError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TallyError(fallback, message, { cause: error });
}
