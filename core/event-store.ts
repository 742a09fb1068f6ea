import type { EventEnvelope, StreamId } from './envelope.ts';
import type { RowChange } from './projection.ts';

/**
 * The contract between the aggregate runtime and storage. The browser's implementation lives in
 * `worker/` (IndexedDB); tests and the sync simulation use the same one over fake-indexeddb.
 */
export type Snapshot = {
  readonly stream: StreamId;
  readonly version: number;
  /** The model's name and snapshot version: a snapshot of another shape is never trusted. */
  readonly model: string;
  /** The model's state version (`Decider.stateVersion`) the state was written in. */
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
  /**
   * The command (or batch) that decided the events. The store keeps it in its outbox with the
   * events, in the same transaction, so a sync rebase can re-run it (docs/architecture.md,
   * "Sync rules").
   */
  readonly command?: { readonly id: string; readonly commands: readonly unknown[] };
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

/** A command whose events are committed locally but not yet accepted by the sync server. */
export type PendingCommand<E extends AnyEvent = AnyEvent> = {
  readonly commandId: string;
  /** As the caller sent them; validated by the runtime when read back (storage is an edge). */
  readonly commands: readonly unknown[];
  /** The events it produced, in version order, right after the previous pending command's. */
  readonly events: readonly EventEnvelope<E>[];
};

/** A pending command that no longer passed the model's rules once the server's events came. */
export type RejectedAfterSync = {
  readonly commandId: string;
  readonly stream: StreamId;
  readonly reason: string;
  /** What the aggregate was called, when known: a person recognises a name, not an id. */
  readonly name?: string;
  readonly at: number;
  /** How many later commands of the same aggregate fell out with this one. */
  readonly later?: number;
};

/** What a rebase sees, read inside the transaction that will write its outcome. */
export type RebaseView<E extends AnyEvent = AnyEvent> = {
  /**
   * Joined from a snapshot: the state at its version as stored (unchecked: the rebaser parses
   * it), where `confirmed` starts after.
   */
  readonly base?: { readonly version: number; readonly state: unknown };
  /** Every confirmed event of the stream (after the base), the server's new ones included, in version order. */
  readonly confirmed: readonly EventEnvelope<E>[];
  /** The stream's pending commands, oldest first. */
  readonly pending: readonly PendingCommand<E>[];
};

/** A rebase's outcome: the new pending suffix (fresh ids and versions) and what fell out. */
export type RebasePlan<E extends AnyEvent = AnyEvent> = {
  readonly pending: readonly PendingCommand<E>[];
  readonly rejected: readonly RejectedAfterSync[];
};

/** Decides a rebase; pure and synchronous, since it runs inside an IndexedDB transaction. */
export type Rebaser<E extends AnyEvent = AnyEvent> = (view: RebaseView<E>) => RebasePlan<E>;

export type ReceiveOutcome<E extends AnyEvent = AnyEvent> =
  | {
      readonly type: 'applied';
      /** The stream's confirmed head and local head afterwards. */
      readonly confirmed: number;
      readonly version: number;
      /** Foreign events appended as confirmed without a rebase (no pending suffix). */
      readonly appended: readonly StoredEvent<E>[];
      /** True when the pending suffix was rewritten: versions and ids after `confirmed` changed. */
      readonly rebased: boolean;
      readonly rejected: readonly RejectedAfterSync[];
    }
  /** The server's events do not follow the confirmed head: nothing was written; catch up. */
  | { readonly type: 'gap'; readonly confirmed: number };

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
  /**
   * Takes the server's events for one stream (from a pull, the live feed or a push answer)
   * in one transaction: echoes of this device's pending events are confirmed; foreign events
   * are appended as confirmed, and when a pending suffix is in their way `rebase` decides it
   * again. Receiving the same events twice changes nothing. With `recheck`, the pending suffix
   * is re-decided even without new events (another aggregate took a name it relies on).
   */
  receive?(
    stream: StreamId,
    events: readonly EventEnvelope<E>[],
    rebase: Rebaser<E>,
    options?: { readonly recheck?: boolean },
  ): Promise<ReceiveOutcome<E>>;
}

/**
 * What one completed transaction wrote, told to listeners after it completed: its new events
 * (position order), every read-model row it wrote or deleted, and the streams whose pending
 * suffix it rewrote (their versions after the confirmed head changed).
 */
export type CommitNotice<E extends AnyEvent = AnyEvent> = {
  readonly events: readonly StoredEvent<E>[];
  readonly rows: readonly RowChange[];
  readonly rebased: readonly StreamId[];
  /** This device's own commands (appends, an import): new pending commands for sync. */
  readonly local?: true;
  /**
   * The store's position after this write, where `events` do not say it: a rebase rewrites a
   * stream's pending events at new positions and tells none of them as new events; a based
   * stream's early history filled from the server is stored below nothing shown.
   */
  readonly position?: number;
};
