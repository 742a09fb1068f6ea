import { counterCodec } from '../core/counter-codec.ts';
import type { CounterEvent } from '../core/counter.ts';
import {
  commandIdSchema,
  pairingTokenSchema,
  spaceTokenSchema,
  syncOriginSchema,
  type SyncUpdate,
} from '../core/engine-api.ts';
import { TallyError } from '../core/errors.ts';
import type { BackoffOptions } from './backoff.ts';
import type { CounterEngine } from './engine.ts';
import type { SyncConfig } from './idb-schema.ts';
import {
  clearSyncConfig,
  dismissRejection,
  readRejections,
  readSyncConfig,
  writeSyncConfig,
} from './outbox.ts';
import { SyncClient } from './sync-client.ts';
import { SyncTransport, type Fetch } from './sync-transport.ts';

export type SyncManagerOptions = {
  readonly fetch?: Fetch;
  readonly backoff?: BackoffOptions;
  readonly pushDelayMs?: number;
};

const pairingLink = (origin: string, invite: string) =>
  `${origin}/#pair=${encodeURIComponent(invite)}`;

/** An invite is renewed when it has less than this left, so a link shown is never about to die. */
const inviteMarginMs = 60 * 60 * 1000;

const check = <T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: readonly { message: string }[] } };
  },
  value: unknown,
): T => {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new TallyError('invalid', parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
};

/**
 * Which space this device syncs with, kept in IndexedDB so sync resumes on the next start; the
 * one sync client for it; and the status every tab's `sync` subscription shows.
 */
export class SyncManager {
  private client: SyncClient<CounterEvent> | undefined;
  private readonly transport: SyncTransport;
  private readonly listeners = new Set<(update: SyncUpdate) => void>();
  private online = true;
  private latest: SyncUpdate = { type: 'sync', state: 'off', pending: 0, rejected: [] };
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly engine: CounterEngine,
    private readonly options: SyncManagerOptions = {},
  ) {
    this.transport = new SyncTransport(options.fetch);
    // New local commits and rebased streams may have something to push.
    this.unsubscribe.push(
      engine.onCommit(() => this.client?.nudge()),
      engine.onRebase(() => {
        this.client?.nudge();
        void this.refresh();
      }),
    );
  }

  /** Resumes syncing with the stored space, if any: how sync starts with the engine. */
  async resume(): Promise<void> {
    const config = await readSyncConfig(this.engine.db);
    if (config) this.run(config);
    await this.refresh();
  }

  onUpdate(listener: (update: SyncUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  current(): SyncUpdate {
    return this.latest;
  }

  async startSync(origin: string): Promise<{ space: string; pairingLink: string }> {
    const base = check(syncOriginSchema, origin);
    // Asked again (a tab re-sending after its leader went away): the space already made stands.
    const current = await readSyncConfig(this.engine.db);
    if (current?.origin === base) {
      const invite = await this.ensureInvite(current);
      return { space: current.space, pairingLink: pairingLink(base, invite) };
    }
    const { space, token } = await this.transport.createSpace(base);
    const config = { origin: base, space, token };
    await this.join(config);
    const invite = await this.ensureInvite(config);
    return { space, pairingLink: pairingLink(base, invite) };
  }

  async joinSpace(origin: string, token: string): Promise<void> {
    const base = check(syncOriginSchema, origin);
    const valid = check(pairingTokenSchema, token);
    const space = valid.split('.')[1]!;
    // Already in that space (the same link opened twice, or a re-sent call): nothing to do.
    const current = await readSyncConfig(this.engine.db);
    if (current?.origin === base && current.space === space) return;
    const own = await this.transport.deviceToken({ origin: base, space, token: valid });
    await this.join({ origin: base, space, token: check(spaceTokenSchema, own) });
  }

  /**
   * Stops syncing and revokes this device's token on the server. Offline, the token cannot be
   * revoked: the device forgets it all the same (local data stays), and says so.
   */
  async leaveSpace(): Promise<void> {
    const config = await readSyncConfig(this.engine.db);
    await this.stopClient();
    let revoked = true;
    if (config) await this.transport.leave(config).catch(() => (revoked = false));
    await clearSyncConfig(this.engine.db);
    await this.refresh();
    if (!revoked)
      throw new TallyError(
        'unavailable',
        'Left the space on this device, but the server could not be told; its token stays valid there.',
      );
  }

  async dismissRejection(commandId: string): Promise<void> {
    await dismissRejection(this.engine.db, check(commandIdSchema, commandId));
    await this.refresh();
  }

  setOnline(online: boolean): void {
    this.online = online;
    this.client?.setOnline(online);
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await this.stopClient();
  }

  private async join(config: SyncConfig): Promise<void> {
    const current = await readSyncConfig(this.engine.db);
    if (current && current.space !== config.space)
      throw new TallyError(
        'conflict',
        'This device already syncs with another space. Leave it first.',
      );
    await this.stopClient();
    await writeSyncConfig(this.engine.db, config);
    this.run(config);
    await this.refresh();
  }

  private run(config: SyncConfig): void {
    const engine = this.engine;
    this.client = new SyncClient<CounterEvent>({
      config,
      transport: this.transport,
      backoff: this.options.backoff,
      pushDelayMs: this.options.pushDelayMs,
      target: {
        db: engine.db,
        decodeStored: (record) => engine.store.decodeRecord(record),
        decodeRemote: (raw) => counterCodec.decode(raw),
        applyRemote: (stream, events) => engine.applyRemote(stream, events),
      },
      onStatus: () => void this.refresh(),
    });
    this.client.setOnline(this.online);
    this.client.start();
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.stop();
  }

  /** The invite the pairing link shows; kept in memory, made again when near its end. */
  private invite: { space: string; invite: string; expiresAt: number } | undefined;
  private inviting: Promise<string> | undefined;

  private ensureInvite(config: SyncConfig): Promise<string> {
    const held = this.invite;
    if (held?.space === config.space && held.expiresAt - Date.now() > inviteMarginMs)
      return Promise.resolve(held.invite);
    this.inviting ??= this.transport
      .invite(config)
      .then(({ invite, expiresAt }) => {
        this.invite = { space: config.space, invite, expiresAt };
        void this.refresh();
        return invite;
      })
      .finally(() => (this.inviting = undefined));
    return this.inviting;
  }

  private async refresh(): Promise<void> {
    // Offline or not yet made: try again whenever the status moves (the link then appears).
    const config = this.client?.config;
    if (config && this.online && this.invite?.space !== config.space)
      void this.ensureInvite(config).catch(() => undefined);
    let rejected;
    try {
      rejected = await readRejections(this.engine.db);
    } catch {
      return; // The database is closing.
    }
    const client = this.client;
    const status = client?.status() ?? { state: 'off' as const, pending: 0 };
    this.latest = {
      type: 'sync',
      ...status,
      ...(client ? { space: client.config.space } : {}),
      ...(client && this.invite?.space === client.config.space
        ? { pairingLink: pairingLink(client.config.origin, this.invite.invite) }
        : {}),
      rejected: rejected.map(({ commandId, stream, name, reason, at }) => ({
        commandId,
        stream,
        reason,
        at,
        ...(name === undefined ? {} : { name }),
      })),
    };
    for (const listener of this.listeners) listener(this.latest);
  }
}
