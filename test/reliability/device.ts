import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '../../core/envelope.ts';
import { pushResponseSchema, type PushResult } from '../../core/protocol.ts';

/**
 * A simulated device as the server sees one: it owns one counter stream and pushes it forward,
 * `batch` events at a time, each push with the stream's confirmed head as expectedVersion. A push
 * without an answer (the connection failed, a 5xx) is sent again unchanged, same event ids, until
 * it is answered: exactly what a device's outbox does.
 */
export class SimDevice {
  readonly stream = `counter-${randomUUID().replaceAll('-', '').slice(0, 20)}`;
  /** Events the server answered as accepted, in order. */
  readonly accepted: EventEnvelope[] = [];
  /** Pushes sent again because the first try got no answer. */
  retries = 0;
  /** Round-trip times of answered pushes, ms. */
  readonly latencies: number[] = [];
  /** Why the last unanswered try failed (a network error, a 5xx), for reports. */
  lastFailure = '';
  /** Answers that were neither accepted nor a retryable failure: must stay empty. */
  readonly errors: string[] = [];

  constructor(
    readonly name: string,
    private readonly target: () => { url: string; space: string; token: string },
  ) {}

  get version(): number {
    return this.accepted.length;
  }

  /** The next `count` events after what is accepted. */
  nextEvents(count: number): EventEnvelope[] {
    const command = `cmd-${randomUUID()}`;
    return Array.from({ length: count }, (_, index) => {
      const version = this.version + index + 1;
      return {
        id: `ev-${randomUUID()}`,
        stream: this.stream,
        version,
        type: version === 1 ? 'Created' : 'Incremented',
        data: version === 1 ? { name: this.name } : {},
        meta: { time: Date.now(), device: this.name, command, schema: 1 },
      };
    });
  }

  /** One push, once; undefined when it got no usable answer (retry it). */
  async send(batch: readonly EventEnvelope[], timeoutMs = 10_000): Promise<PushResult | undefined> {
    const { url, space, token } = this.target();
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(`${url}/api/spaces/${space}/push`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          streams: [{ stream: this.stream, expectedVersion: this.version, events: batch }],
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      this.lastFailure = String((error as Error).cause ?? error);
      return undefined;
    }
    if (response.status >= 500) {
      this.lastFailure = `${response.status} ${await response.text()}`;
      return undefined;
    }
    if (response.status !== 200) {
      this.errors.push(`${response.status} ${await response.text()}`);
      return undefined;
    }
    const result = pushResponseSchema.parse(await response.json()).results[0];
    this.latencies.push(performance.now() - started);
    return result;
  }

  /**
   * Pushes the next batch until it is answered, retrying unanswered tries with the same events.
   * Resolves with the accepted events, or throws past the deadline or on any other answer.
   */
  async pushNext(count: number, deadline: number, onTry?: () => void): Promise<EventEnvelope[]> {
    const batch = this.nextEvents(count);
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) this.retries++;
      onTry?.();
      const result = await this.send(batch);
      if (result?.status === 'accepted' && result.version === this.version + batch.length) {
        this.accepted.push(...batch);
        return batch;
      }
      if (result) throw new Error(`${this.name}: unexpected answer ${JSON.stringify(result)}`);
      if (this.errors.length > 0) throw new Error(`${this.name}: ${this.errors.join('; ')}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: no answer before the deadline`);
      // A short, growing pause between tries, as a device backs off; not a synchronisation.
      await new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** attempt, 250)));
    }
  }
}
