import type { EventEnvelope, StreamId } from './envelope.ts';
import type { ReceiveOutcome, RejectedAfterSync } from './event-store.ts';
import type { PushRequest } from './protocol.ts';
import type { StreamSnapshot } from './stream-snapshot.ts';

/** Where this device syncs: the server's origin, the space and this device's bearer token. */
export type SyncSettings = {
  readonly origin: string;
  readonly space: string;
  readonly token: string;
};

/** One stream's part of a push: the device's confirmed head and the events after it. */
export type PushStream = PushRequest['streams'][number];
export type NextPush = { readonly streams: PushStream[]; readonly more: boolean };

/**
 * What the sync client needs of the device's storage and engine (docs/architecture.md,
 * "Sync rules"): the port sync depends on. It is implemented over IndexedDB in `worker/`; the sync
 * client never sees a database handle or the store's internals.
 */
export interface SyncStorage {
  /**
   * The next push: per stream with pending commands, its confirmed head as `expectedVersion`
   * and the pending events, within the protocol's limits; whole commands only. Streams in
   * `skip` (never pushed by this client) take none of the push's room. `more`: pending commands
   * were left out for want of room, so another push follows at once.
   */
  readPush(skip?: ReadonlySet<StreamId>): Promise<NextPush>;
  /**
   * This device's confirmed events of `stream` after `from`, up to `to`, as pushes: what it
   * gives back to a server that lost them.
   */
  readRestore(stream: StreamId, from: number, to: number): Promise<PushStream[]>;
  /**
   * The server accepted these events of `stream`, pushed from here: confirmed at once, in memory,
   * when the store can (their commands still behind its appends); false when they must be
   * received as usual (`receive`), nothing changed.
   */
  confirmPushed(stream: StreamId, events: readonly EventEnvelope[]): boolean;
  /**
   * Commands committed here and not yet accepted by the server, those of the streams in `skip`
   * (which this client never pushes) left out.
   */
  pendingCount(skip?: ReadonlySet<StreamId>): Promise<number>;

  readSettings(): Promise<SyncSettings | undefined>;
  writeSettings(settings: SyncSettings): Promise<void>;
  /**
   * Forgets the space and its feed cursor and makes this device's whole history pending again,
   * so the next space it starts or joins gets everything it shows. Local data stays.
   */
  clearSettings(): Promise<void>;
  /** The feed cursor of `space` up to which every entry is received here ('0' for none). */
  readFeedCursor(space: string): Promise<string>;
  writeFeedCursor(space: string, cursor: string): Promise<void>;
  /**
   * A join from snapshots under way in `space`: the cursor its first attempt started at (the
   * feed is followed from the earliest, so nothing between two attempts is missed), if any.
   */
  readJoinCursor(space: string): Promise<string | undefined>;
  writeJoinCursor(space: string, cursor: string): Promise<void>;
  /** The join is done: the feed cursor becomes `cursor`, and the join record goes, at once. */
  finishJoin(space: string, cursor: string): Promise<void>;

  readRejections(): Promise<RejectedAfterSync[]>;
  dismissRejection(commandId: string): Promise<void>;

  /** Validates an event from the server with its model's codec (the server is an edge). */
  decodeRemote(raw: unknown): EventEnvelope;
  /** The server's events for one stream, through its aggregate's mailbox, in one transaction. */
  receive(stream: StreamId, events: readonly EventEnvelope[]): Promise<ReceiveOutcome>;
  /**
   * Joining from the server's snapshots (docs/architecture.md, "Joining a space"): each stream
   * this device does not hold starts from its snapshot. Answers the streams to read from their
   * events instead (held here already but behind, or in a shape this build cannot take).
   */
  installBases(
    space: string,
    snapshots: readonly StreamSnapshot[],
  ): Promise<readonly { readonly stream: StreamId; readonly version: number }[]>;
  /** The version below which this device holds none of the stream's events: its base's, or 0. */
  heldFrom(stream: StreamId): Promise<number>;
  /** The stream's confirmed head here (0 when it holds none). */
  confirmedOf(stream: StreamId): Promise<number>;
  /** Streams joined from a snapshot whose history below it is not held here yet. */
  bases(): Promise<
    readonly {
      readonly stream: StreamId;
      readonly version: number;
      readonly space: string;
      /** False when this build cannot start the stream from it (its model's shape changed). */
      readonly readable: boolean;
    }[]
  >;
  /**
   * A based stream's history below its base, read from the server (versions 1 to the base's,
   * validated): stored, and the stream is whole here. False when it was not based any more.
   */
  fillBase(stream: StreamId, events: readonly EventEnvelope[]): Promise<boolean>;
  /**
   * The server deleted the stream forever (its history answers 404) before its tombstone reached
   * this device: everything held of it goes, as the tombstone would do it.
   */
  dropDeleted(stream: StreamId): Promise<void>;
  /** Told after every local commit or rebase: there may be something new to push. */
  onChange(listener: (change: { readonly rebased: boolean }) => void): () => void;
}
