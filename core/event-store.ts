import type { EventEnvelope, StreamId } from './envelope.ts';

/**
 * The contract between the aggregate runtime and storage. The browser's implementation lives in
 * `worker/` (IndexedDB); tests and the sync simulation use the same one over fake-indexeddb.
 */
export type Snapshot = {
  readonly stream: StreamId;
  readonly version: number;
  /** The model's name and snapshot version: a snapshot of another shape is never trusted. */
  readonly model: string;
  readonly modelVersion: number;
  readonly state: unknown;
};

export type Commit<E extends AnyEvent = AnyEvent> = {
  readonly stream: StreamId;
  /** The stream's version before this commit; `NO_STREAM` (0) for a new stream. */
  readonly expectedVersion: number;
  readonly events: readonly EventEnvelope<E>[];
  /** Written in the same transaction as the events, when the runtime decides one is due. */
  readonly snapshot?: Snapshot;
};

export type AnyEvent = { type: string; data: unknown };

/** An event as the store keeps it: the envelope plus its place in the store-wide order. */
export type StoredEvent<E extends AnyEvent = AnyEvent> = EventEnvelope<E> & {
  readonly position: number;
};

export type LoadedStream<E extends AnyEvent = AnyEvent> = {
  readonly snapshot: Snapshot | undefined;
  /** Events after the snapshot (all of them without one), in version order. */
  readonly events: readonly EventEnvelope<E>[];
};

export interface EventStore<E extends AnyEvent = AnyEvent> {
  /**
   * Resolves only after the transaction holding the events (and the read-model rows they
   * change) has completed. Rejects with a `conflict` TallyError when the stream is not at
   * `expectedVersion`, writing nothing for that commit.
   */
  append(commit: Commit<E>): Promise<readonly StoredEvent<E>[]>;
  load(
    stream: StreamId,
    snapshot: { model: string; modelVersion: number },
  ): Promise<LoadedStream<E>>;
}
