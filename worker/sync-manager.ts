import { deviceNameSchema } from '../core/protocol.ts';
import {
  commandIdSchema,
  pairingTokenSchema,
  spaceTokenSchema,
  syncOriginSchema,
  type SyncUpdate,
} from '../core/engine-protocol.ts';
import { TallyError, toTallyError } from '../core/errors.ts';
import type { SyncSettings, SyncStorage } from '../core/sync-port.ts';
import type { BackoffOptions } from './backoff.ts';
import { defaultDeviceName } from './device-name.ts';
import { SyncClient } from './sync-client.ts';
import { SyncTransport, type Fetch } from './sync-transport.ts';

export type SyncManagerOptions = {
  readonly fetch?: Fetch;
  readonly backoff?: BackoffOptions;
  readonly pushDelayMs?: number;
  /** How long an acked event may stay unseen in the live feed before it is given back. */
  readonly verifyMs?: number;
  /** How long the echo of a push in flight waits for its answer before it is received. */
  readonly echoWaitMs?: number;
  /** How long the feed's cursor past echoes of this device's own pushes alone may wait to be stored. */
  readonly echoCursorMs?: number;
  /** How often an unreachable server's health is asked (default 2 s). */
  readonly probeMs?: number;
};

const pairingLink = (origin: string, invite: string) =>
  `${origin}/#pair=${encodeURIComponent(invite)}`;

/** An invite is made again for a re-sent call when it has less than this left. */
const inviteMarginMs = 60 * 1000;

export type Pairing = {
  readonly pairingLink: string;
  readonly invite: string;
  readonly expiresAt: number;
};

const removedMessage =
  'This device was removed from the space. Its counters stay here; to sync again, open a new pairing link.';

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
  private client: SyncClient | undefined;
  private readonly transport: SyncTransport;
  private readonly listeners = new Set<(update: SyncUpdate) => void>();
  private online = true;
  private latest: SyncUpdate = { type: 'sync', state: 'off', pending: 0, rejected: [] };
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly storage: SyncStorage,
    private readonly options: SyncManagerOptions = {},
  ) {
    this.transport = new SyncTransport(options.fetch);
    // New local commits and rebased streams may have something to push.
    this.unsubscribe.push(
      storage.onChange(({ rebased }) => {
        this.client?.nudge();
        if (rebased) void this.refresh();
      }),
    );
  }

  /** Resumes syncing with the stored space, if any: how sync starts with the engine. */
  async resume(): Promise<void> {
    let config;
    try {
      config = await this.storage.readSettings();
    } catch (error) {
      if (!damaged(error)) throw error;
      // Sync is off and says why; counting goes on. Starting, joining or leaving writes over
      // them, as the person asks (`stored`).
      console.warn('Tally: sync is off', error);
      this.removed = damagedMessage;
      await this.refresh();
      return;
    }
    if (config) this.run(config);
    await this.refresh();
  }

  /**
   * The stored settings, or undefined: none, or damaged (starting, joining or leaving, which
   * the person asked for, replaces them; nothing else writes over them).
   */
  private async stored(): Promise<SyncSettings | undefined> {
    try {
      return await this.storage.readSettings();
    } catch (error) {
      if (damaged(error)) return undefined;
      throw error;
    }
  }

  onUpdate(listener: (update: SyncUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  current(): SyncUpdate {
    return this.latest;
  }

  /** Creates a space, joins it, and makes the first pairing invite (starting is asking to pair). */
  startSync(origin: string): Promise<{ space: string } & Pairing> {
    return this.serially(() => this.startSyncNow(origin));
  }

  private async startSyncNow(origin: string): Promise<{ space: string } & Pairing> {
    const base = check(syncOriginSchema, origin);
    // Asked again (a tab re-sending after its leader went away): the space already made stands,
    // and so does the invite made for it.
    const current = await this.stored();
    if (current?.origin === base) {
      const held = this.invite;
      if (held?.space === current.space && held.expiresAt - Date.now() > inviteMarginMs)
        return { space: current.space, ...held.pairing };
      return { space: current.space, ...(await this.pairDevice()) };
    }
    // Everything this device holds made pending first (worker/outbox.ts): a record that cannot
    // be read refuses here, before a space is made on the server for nothing.
    if (!current) await this.storage.clearSettings();
    const { space, token } = await this.transport.createSpace(base, this.deviceName());
    await this.join({ origin: base, space, token });
    return { space, ...(await this.pairDevice()) };
  }

  /** A fresh single-use pairing invite, as a link: shown only where a person asked to pair. */
  async pairDevice(): Promise<Pairing> {
    const config = await this.settings();
    const { invite, expiresAt } = await this.transport.invite(config);
    const pairing = { pairingLink: pairingLink(config.origin, invite), invite, expiresAt };
    this.invite = { space: config.space, expiresAt, pairing };
    return pairing;
  }

  async cancelPairing(invite: string): Promise<void> {
    const config = await this.settings();
    await this.transport.cancelInvite(config, invite);
    if (this.invite?.pairing.invite === invite) this.invite = undefined;
  }

  async devices() {
    return this.transport.devices(await this.settings());
  }

  async renameDevice(name: string): Promise<void> {
    await this.transport.renameSelf(await this.settings(), check(deviceNameSchema, name));
  }

  async removeDevice(device: string): Promise<void> {
    await this.transport.removeDevice(await this.settings(), device);
  }

  /**
   * Deletes a stream forever on the server of this device's space; false when this device syncs
   * with none (then there is nothing to delete there).
   */
  async deleteStream(stream: string): Promise<boolean> {
    // Damaged settings are none: the counter is deleted on this device only.
    const config = await this.stored();
    if (!config) return false;
    await this.transport.deleteStream(config, stream);
    return true;
  }

  private deviceName(): string {
    return defaultDeviceName(typeof navigator === 'undefined' ? '' : navigator.userAgent);
  }

  private async settings(): Promise<SyncSettings> {
    // Damaged settings are none here too: the person is told to start syncing, not the damage.
    const config = await this.stored();
    if (!config)
      throw new TallyError('conflict', 'This device does not sync yet: start syncing first.');
    return config;
  }

  joinSpace(origin: string, token: string): Promise<void> {
    return this.serially(() => this.joinSpaceNow(origin, token));
  }

  private async joinSpaceNow(origin: string, token: string): Promise<void> {
    const base = check(syncOriginSchema, origin);
    const valid = check(pairingTokenSchema, token);
    const space = valid.split('.')[1]!;
    // Already in that space (the same link opened twice, or a re-sent call): nothing to do.
    const current = await this.stored();
    if (current?.origin === base && current.space === space) return;
    // The invite is redeemed first: a used or expired one leaves the device in the space it
    // was in, syncing as before.
    // What this device joined from the old space's snapshots goes along whole, or the move
    // waits: asked before the invite is used, so a refused move leaves everything as it was.
    if (current && current.space !== space) {
      const left = (await this.client?.fillBases()) ?? 0;
      if (left > 0) throw cannotMove(left);
    }
    // Not in a space: everything it holds made pending first (worker/outbox.ts), so a record
    // that cannot be read refuses here, before the single-use invite is spent.
    if (!current) await this.storage.clearSettings();
    const own = await this.transport.deviceToken(
      { origin: base, space, token: valid },
      this.deviceName(),
    );
    const config = { origin: base, space, token: check(spaceTokenSchema, own) };
    // In another space (the person chose "Leave and join"): leave it, then join. Its counters
    // stay here and go to the new space with everything else. The local part goes first: if it
    // fails, the new token is given back and the old space syncs on as before. Then the old
    // token is revoked (a server that cannot be told does not stop the join).
    if (current) {
      const old = this.client;
      await this.stopClient();
      try {
        // A join from the old space's snapshots still under way may have installed a base
        // since the check above: stopped now, the client reads those too.
        const late = (await old?.fillBases()) ?? 0;
        if (late > 0) throw cannotMove(late, true);
        await this.storage.clearSettings();
      } catch (error) {
        // Back to syncing where it was at once; the new token is given back on the side (a
        // server that does not answer must not hold the device stopped; if it never hears,
        // the other space lists a device its people can remove).
        this.run(current);
        await this.refresh();
        void this.transport.leave(config).catch(() => undefined);
        throw error;
      }
      await this.transport.leave(current).catch(() => undefined);
    }
    await this.join(config);
  }

  /**
   * Stops syncing and revokes this device's token on the server. Offline, the token cannot be
   * revoked: the device forgets it all the same (local data stays), and says so.
   */
  leaveSpace(): Promise<{ readonly note?: string }> {
    return this.serially(() => this.leaveSpaceNow());
  }

  /**
   * Starting, joining and leaving run one at a time: a call re-sent by a tab that became the
   * leader waits for the one in flight, then finds the device already where it asked to be.
   */
  private queue: Promise<unknown> = Promise.resolve();
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Leaves: answers, as a `note`, what came with it that the person should know (the server
   * could not be told, counters could not take their early history); it left all the same.
   */
  private async leaveSpaceNow(): Promise<{ readonly note?: string }> {
    const config = await this.stored();
    // Counters joined from the space's snapshots: their history below is read, so they leave
    // whole and go to the next space like any other. The client stops first: a join from
    // snapshots under way installs no base after the read.
    const client = this.client;
    await this.stopClient();
    const based = (await client?.fillBases()) ?? 0;
    let revoked = true;
    if (config) await this.transport.leave(config).catch(() => (revoked = false));
    await this.storage.clearSettings();
    this.removed = undefined;
    await this.refresh();
    const tied =
      based === 0
        ? ''
        : ` ${based === 1 ? 'One counter' : `${based} counters`} joined from it could not take ${based === 1 ? 'its' : 'their'} early history along: they stay here, and sync again when this device rejoins that space.`;
    if (!revoked)
      return {
        note: `Left the space on this device, but the server could not be told; its token stays valid there.${tied}`,
      };
    return tied ? { note: `Left the space.${tied}` } : {};
  }

  /** True while this device joins its space from snapshots. */
  joining(): boolean {
    return this.client?.joining === true;
  }

  /**
   * Reads from the server the history below the base of counters joined from the space's
   * snapshots (those named, or all): answers how many stay without it, those joined from another
   * space included.
   */
  async fillBases(only?: readonly string[]): Promise<number> {
    await this.client?.fillBases(only);
    const bases = await this.storage.bases();
    return bases.filter((base) => !only || only.includes(base.stream)).length;
  }

  async dismissRejection(commandId: string): Promise<void> {
    await this.storage.dismissRejection(check(commandIdSchema, commandId));
    await this.refresh();
  }

  /** "Retry now": every loop tries again at once. */
  retryNow(): void {
    this.client?.retryNow();
  }

  setOnline(online: boolean): void {
    this.online = online;
    this.client?.setOnline(online);
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await this.stopClient();
  }

  private async join(config: SyncSettings): Promise<void> {
    const current = await this.stored();
    if (current && current.space !== config.space)
      throw new TallyError(
        'conflict',
        'This device already syncs with another space. Leave it first.',
      );
    await this.stopClient();
    // Not in a space yet: whatever an earlier space confirmed here goes to this one too (a
    // profile that left a space before leaving made its history pending again).
    if (!current) await this.storage.clearSettings();
    await this.storage.writeSettings(config);
    this.removed = undefined;
    this.run(config);
    await this.refresh();
  }

  private run(config: SyncSettings): void {
    const client: SyncClient = new SyncClient({
      config,
      storage: this.storage,
      transport: this.transport,
      backoff: this.options.backoff,
      pushDelayMs: this.options.pushDelayMs,
      verifyMs: this.options.verifyMs,
      echoWaitMs: this.options.echoWaitMs,
      echoCursorMs: this.options.echoCursorMs,
      probeMs: this.options.probeMs,
      onStatus: () => void this.refresh(),
      // In turn with starting, joining and leaving: a refusal heard while the device moves to
      // another space belongs to the client that was stopped, not to the space it moved to.
      onRefused: () => void this.serially(() => this.refused(client)),
    });
    this.client = client;
    client.setOnline(this.online);
    client.start();
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.stop();
  }

  /** The last invite made, for a re-sent `startSync` to answer with. */
  private invite: { space: string; expiresAt: number; pairing: Pairing } | undefined;

  /** Said once the server refuses this device's token: removed, it keeps its counters. */
  private removed: string | undefined;

  /** The server no longer takes this device's token: it was removed from the space. */
  private async refused(client: SyncClient): Promise<void> {
    // That client was stopped meanwhile (the device left, or moved to another space).
    if (this.client !== client) return;
    await this.stopClient();
    await this.storage.clearSettings();
    this.removed = removedMessage;
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    // The client's state is taken at once, so `current()` never lags behind it (a commit
    // waiting to go out is "syncing" before the rejections are read); listeners hear it whole.
    const now = this.client;
    if (now) {
      const { lastError: _, lastErrorCode: __, ...rest } = this.latest;
      this.latest = { ...rest, ...now.status(), space: now.config.space };
    }
    let rejected;
    try {
      rejected = await this.storage.readRejections();
    } catch {
      return; // The database is closing.
    }
    const client = this.client;
    const status = client?.status() ?? {
      state: 'off' as const,
      pending: 0,
      ...(this.removed ? { lastError: this.removed, lastErrorCode: 'unauthorized' as const } : {}),
    };
    this.latest = {
      type: 'sync',
      ...status,
      ...(client ? { space: client.config.space } : {}),
      rejected: rejected.map(({ commandId, stream, name, reason, at, later }) => ({
        commandId,
        stream,
        reason,
        at,
        ...(name === undefined ? {} : { name }),
        ...(later === undefined ? {} : { later }),
      })),
    };
    for (const listener of this.listeners) listener(this.latest);
  }
}

/** A move to another space refused: counters joined from this one lack their early history. */
const cannotMove = (left: number, linkUsed = false) =>
  new TallyError(
    'unavailable',
    `${left === 1 ? 'One counter' : `${left} counters`} joined from this space could not read ${left === 1 ? 'its' : 'their'} early history from the sync server, so ${left === 1 ? 'it' : 'they'} cannot move to the other space yet. ${linkUsed ? 'The pairing link is used up: make a new one on the other device when the server can be reached.' : 'Try again when the server can be reached.'}`,
  );

const damagedMessage =
  'The sync settings stored on this device are damaged, so sync is off. Start syncing or join a space to replace them; counting works here meanwhile.';

/** A stored record failed its check (worker/stored-records.ts): it is there, and unreadable. */
const damaged = (error: unknown) => toTallyError(error).code === 'invalid';
