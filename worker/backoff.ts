export type BackoffOptions = {
  /** First delay's upper bound. Default 500 ms. */
  readonly baseMs?: number;
  /** Largest delay. Default 30 s. */
  readonly maxMs?: number;
  /** Injectable for tests; `Math.random` by default. */
  readonly random?: () => number;
};

/**
 * Exponential backoff with full jitter (delay = random × min(max, base × 2^attempt)): many
 * devices that lost the same server do not all come back in the same millisecond.
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
    if (!(this.baseMs > 0 && this.maxMs >= this.baseMs))
      throw new RangeError('Backoff needs 0 < baseMs <= maxMs.');
  }

  /** The delay before the next attempt; each call makes the following one longer. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(this.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}
