import { TallyError } from '../core/errors.ts';
import type { EventEnvelope } from '../core/envelope.ts';
import { models as allModels, type ModelSet } from '../core/model-list.ts';
import { limits, type SnapshotPage } from '../core/protocol.ts';
import { foldStream, streamSnapshotSchema, type StreamSnapshot } from '../core/stream-snapshot.ts';
import { unavailable } from './errors.ts';
import type { RedisConnection } from './redis-client.ts';
import { parseStoredEvent } from './stored-event.ts';

/**
 * Per-stream snapshots on the server (docs/architecture.md, "Joining a space"): each stream of a
 * space folded with the models' own code, kept in `tally:{space}:snaps` beside the stream's list,
 * so a device joining a space reads one snapshot per stream instead of every event.
 *
 * The append script names every new stream in the hash (value `0` until a snapshot is folded),
 * the delete script removes it; this module folds. A snapshot is brought up to date when a page
 * is read, and as streams grow: an accepted push's own events (decoded already to validate them)
 * are folded onto the stream's snapshot held in memory, and the snapshot is written back each
 * time the stream passes a multiple of `every` events, so a join folds at most that many events
 * per stream and ingest pays no second read or decode. A stream this instance holds no snapshot
 * of is folded from Redis in the background when it passes such a multiple. Work per request is
 * bounded by `budget` events: a stream that needs more keeps what was folded and its page is
 * asked for again.
 */
export type SnapshotOptions = {
  /** Events folded per request at most; a page whose streams need more is asked again. */
  readonly budget?: number;
  /** A stream's snapshot is brought up to date in the background every this many events. */
  readonly every?: number;
  /** Streams whose snapshot this instance keeps in memory (least recently pushed go first). */
  readonly cached?: number;
  readonly models?: ModelSet;
};

type Keys = { readonly snaps: string; readonly feed: string; readonly list: (s: string) => string };

/** Streams a page holds: HSCAN's hint (a small hash answers whole). */
const streamsPerScan = 100;
/** Events read from a list per round trip while folding. */
const readChunk = 1_000;

/**
 * Writes a snapshot over the value it was folded from, or over an older one; never for a stream
 * no longer in the hash (deleted meanwhile): two folds racing keep the newer, a deletion is never
 * undone, and a stored value that could not be used (broken, of an older shape) is replaced.
 *
 * KEYS[1] the space's snapshot hash; ARGV[1] the stream; ARGV[2] its version; ARGV[3] the JSON;
 * ARGV[4] the value the fold read there.
 */
const keepNewerScript = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
if old ~= '0' and old ~= ARGV[4] then
  local ok, decoded = pcall(cjson.decode, old)
  if ok and type(decoded) == 'table' and tonumber(decoded['version']) and tonumber(decoded['version']) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

type SnapshotCommands = {
  tallyKeepSnapshot(numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
};

/** Snapshots larger than this are not kept: the stream is read from its events instead. */
const maxSnapshotBytes = 16_384;

/**
 * A stored snapshot read back: validated (its state with the model's own schema), and of the
 * model's shape today, or not used (`newer` when a newer build wrote it: this one cannot).
 */
function storedSnapshot(
  models: ModelSet,
  stream: string,
  raw: string,
): StreamSnapshot | 'newer' | undefined {
  if (raw === '0' || raw.length > maxSnapshotBytes) return undefined;
  try {
    const parsed = streamSnapshotSchema.safeParse(JSON.parse(raw));
    if (!parsed.success || parsed.data.stream !== stream) return undefined;
    const model = models.modelOf(stream);
    if (parsed.data.modelVersion > model.decider.stateVersion) return 'newer';
    if (parsed.data.modelVersion !== model.decider.stateVersion) return undefined;
    const state = model.stateSchema.safeParse(parsed.data.state);
    return state.success ? { ...parsed.data, state: state.data } : undefined;
  } catch {
    // Not JSON: folded again from the stream's first event, and written over.
    return undefined;
  }
}

/** The id of a stored event (LINDEX's answer), or undefined. */
function idOf(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const id = (JSON.parse(raw) as { id?: unknown } | null)?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

export type SnapshotReader = {
  /**
   * One page of the space's snapshots; throws `conflict` when the index may miss a stream (a
   * space older than it, a write by an older build) or a newer build's snapshots are there.
   */
  page(space: string, page: string): Promise<SnapshotPage>;
  /**
   * Tells it a push was accepted: `events` (decoded) after `expectedVersion`, where the list's
   * event is `expectedId` (the push named it, and the append script checked it), and the stream
   * is now `version` events long.
   */
  grew(
    space: string,
    stream: string,
    expectedVersion: number,
    expectedId: string | undefined,
    events: readonly EventEnvelope[],
    version: number,
  ): void;
  /**
   * The stream's stored snapshot where it can be folded on: of the model's shape today and of the
   * list's own events (the list's event at its version has its id). Undefined when there is none
   * yet, for a model not folded here, and for one a failover or another build made unusable.
   */
  stored(space: string, stream: string): Promise<StreamSnapshot | undefined>;
  /** Waits for the background folds under way (shutdown, tests). */
  idle(): Promise<void>;
};

export function createSnapshots(
  redis: RedisConnection,
  keysOf: (space: string) => Keys,
  options: SnapshotOptions = {},
): SnapshotReader {
  const { budget = 10_000, every = 100, models = allModels, cached: maxCached = 10_000 } = options;
  redis.defineCommand('tallyKeepSnapshot', { lua: keepNewerScript });
  const commands = redis as RedisConnection & SnapshotCommands;
  const foldable = (stream: string): boolean => {
    try {
      return models.modelOf(stream).foldOnServer === true;
    } catch {
      // A stream of no model this build knows: its events are for the feed to carry.
      return false;
    }
  };
  /** XINFO STREAM's `entries-added`: every entry the feed ever took, deleted ones included. */
  const entriesAdded = (info: unknown): number => {
    const fields = Array.isArray(info) ? (info as unknown[]) : [];
    const at = fields.indexOf('entries-added');
    const value = at >= 0 ? Number(fields[at + 1]) : Number.NaN;
    if (!Number.isSafeInteger(value)) throw new Error('XINFO STREAM named no entries-added.');
    return value;
  };

  /**
   * Folds `stream` from its stored snapshot (`stored`, read back as `base`) up to `length`
   * events, at most `allowed` of them: the snapshot reached (written back when it moved) and
   * whether it is the whole stream. `idThere` is the id of the list's event at the base's
   * version: a base that is not of the list's own events (past its end after a failover lost
   * the last writes, or of events others then wrote differently) is folded again from the first.
   */
  async function bringUp(
    keys: Keys,
    stream: string,
    stored: string,
    base: StreamSnapshot | undefined,
    idThere: string | undefined,
    length: number,
    allowed: number,
  ): Promise<{
    snapshot: StreamSnapshot | undefined;
    whole: boolean;
    folded: number;
    tooLarge?: true;
  }> {
    const sound = base && base.version <= length && base.id === idThere ? base : undefined;
    let snapshot = sound;
    const from = snapshot?.version ?? 0;
    const to = Math.min(length, from + allowed);
    for (let at = from; at < to; at += readChunk) {
      const raw = await redis.lrange(keys.list(stream), at, Math.min(to, at + readChunk) - 1);
      const events = raw.map((json) => models.decode(parseStoredEvent(json)) as EventEnvelope);
      // The list is shorter than it was a moment ago: stop where it ends.
      if (events.length === 0) break;
      // The stored base was parsed as it was read back (storedSnapshot).
      snapshot = foldStream(models, stream, snapshot, events, true);
    }
    const json = snapshot && snapshot.version > from ? JSON.stringify(snapshot) : undefined;
    // Too large to keep (or to send): the stream is read from its events instead.
    if (json !== undefined && json.length > maxSnapshotBytes)
      return { snapshot: undefined, whole: true, folded: to - from, tooLarge: true };
    if (json !== undefined)
      await commands.tallyKeepSnapshot(1, keys.snaps, stream, snapshot!.version, json, stored);
    return { snapshot, whole: (snapshot?.version ?? 0) >= length, folded: to - from };
  }

  /** The newest snapshot this instance made of a stream, by `space\0stream`, least recent first. */
  const cache = new Map<string, StreamSnapshot>();
  const remember = (key: string, snapshot: StreamSnapshot) => {
    const held = cache.get(key);
    if (held && held.version > snapshot.version) return;
    cache.delete(key);
    cache.set(key, snapshot);
    if (cache.size > maxCached) cache.delete(cache.keys().next().value!);
  };
  const writes = new Set<Promise<unknown>>();
  const write = (space: string, snapshot: StreamSnapshot) => {
    const written = commands
      .tallyKeepSnapshot(
        1,
        keysOf(space).snaps,
        snapshot.stream,
        snapshot.version,
        JSON.stringify(snapshot),
        // Folded from memory, not from a stored value: only an older one is written over.
        '',
      )
      .catch(() => undefined)
      .finally(() => writes.delete(written));
    writes.add(written);
  };

  // Background folds: one at a time, each stream once however often it is asked for meanwhile.
  const waiting = new Map<string, { space: string; stream: string }>();
  let running: Promise<void> | undefined;
  const drain = async () => {
    // A Map's iteration also visits what is added while it runs.
    for (const [key, { space, stream }] of waiting) {
      waiting.delete(key);
      try {
        const keys = keysOf(space);
        const [raw, length] = await Promise.all([
          redis.hget(keys.snaps, stream),
          redis.llen(keys.list(stream)),
        ]);
        if (raw === null || !foldable(stream)) continue;
        const base = storedSnapshot(models, stream, raw);
        if (base === 'newer') continue;
        const idThere = base
          ? idOf(await redis.lindex(keys.list(stream), base.version - 1))
          : undefined;
        const { snapshot, whole } = await bringUp(keys, stream, raw, base, idThere, length, budget);
        if (snapshot && whole) remember(key, snapshot);
      } catch {
        // Only time is lost: the next page read or the next push folds it.
      }
    }
  };
  const start = () => {
    running ??= drain().finally(() => {
      running = undefined;
      if (waiting.size > 0) start();
    });
  };

  return {
    async page(space, page) {
      const keys = keysOf(space);
      let head: unknown[];
      let added: number;
      let appended: string | null;
      let scanned: [string, string[]];
      try {
        // The feed's position first: every snapshot read after it counts at least as much. In
        // one transaction with it, how many entries the feed ever took and how many of them
        // came through the scripts that keep the index.
        const replies = (await redis
          .multi()
          .xrevrange(keys.feed, '+', '-', 'COUNT', 1)
          .call('XINFO', 'STREAM', keys.feed)
          .hget(keys.snaps, '~appended')
          .exec()) as [Error | null, unknown][] | null;
        const [
          [headError, newest] = [null, []],
          [infoError, info] = [null, []],
          [countError, count] = [null, null],
        ] = replies ?? [];
        if (headError) throw headError;
        if (countError) throw countError;
        // No feed yet: XINFO refuses the missing key, and nothing was ever added.
        if (infoError && !/no such key/i.test(infoError.message)) throw infoError;
        head = newest as unknown[];
        appended = count as string | null;
        added = infoError ? 0 : entriesAdded(info);
        scanned = await redis.hscan(keys.snaps, page, 'COUNT', streamsPerScan);
      } catch (error) {
        throw unavailable(error);
      }
      const first = head[0];
      const cursor = Array.isArray(first) && typeof first[0] === 'string' ? first[0] : '0';
      if (added > Number(appended ?? 0))
        throw new TallyError(
          'conflict',
          'This space holds events its stream index does not name (written before it existed, or by an older server): read its feed from the beginning instead.',
        );
      const [next, flat] = scanned;
      const found: [string, string][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2)
        if (!flat[i]!.startsWith('~')) found.push([flat[i]!, flat[i + 1]!]);
      if (found.length > limits.maxSnapshotsPerPage)
        throw new TallyError('unavailable', 'A page of snapshots came out too large.');
      // Each stream's length and, where a snapshot is stored, the id of its event there.
      const read = found.map(([stream, raw]) =>
        foldable(stream) ? storedSnapshot(models, stream, raw) : undefined,
      );
      if (read.includes('newer'))
        throw new TallyError(
          'conflict',
          "This space's snapshots were made by a newer server: read its feed from the beginning instead.",
        );
      const bases = read as (StreamSnapshot | undefined)[];
      let lengths: number[];
      let ids: (string | undefined)[];
      try {
        const pipeline = redis.pipeline();
        for (const [index, [stream]] of found.entries()) {
          pipeline.llen(keys.list(stream));
          pipeline.lindex(keys.list(stream), Math.max(0, (bases[index]?.version ?? 1) - 1));
        }
        const replies = (await pipeline.exec()) ?? [];
        const values = replies.map(([error, value]) => {
          if (error) throw error;
          return value;
        });
        lengths = found.map((_, index) => Number(values[2 * index]));
        ids = found.map((_, index) => idOf(values[2 * index + 1]));
      } catch (error) {
        throw unavailable(error);
      }
      let left = budget;
      let whole = true;
      const streams: StreamSnapshot[] = [];
      const histories: { stream: string; version: number }[] = [];
      for (const [index, [stream, raw]] of found.entries()) {
        const length = lengths[index] ?? 0;
        if (length === 0) continue;
        if (!foldable(stream)) {
          histories.push({ stream, version: length });
          continue;
        }
        let result;
        try {
          result = await bringUp(keys, stream, raw, bases[index], ids[index], length, left);
        } catch (error) {
          if (error instanceof TallyError && error.code === 'invalid')
            // Events the models cannot fold (stored by a build that knew other rules): the
            // device reads them as it always did, from the feed.
            throw new TallyError(
              'conflict',
              `${stream} cannot be folded here (${error.message}): read the space's feed from the beginning instead.`,
            );
          throw unavailable(error);
        }
        left -= result.folded;
        if (result.tooLarge) histories.push({ stream, version: length });
        else if (result.whole && result.snapshot) streams.push(result.snapshot);
        else whole = false;
      }
      // A page with a stream not folded to its end yet is asked for again: the fold goes on
      // from the snapshot it wrote. Folded streams it sends again cost nothing more.
      if (!whole) return { cursor, streams, histories, next: page };
      return { cursor, streams, histories, ...(next === '0' ? {} : { next }) };
    },

    grew(space, stream, expectedVersion, expectedId, events, version) {
      // A model whose state grows with the space is not folded here (core/model.ts).
      if (!foldable(stream)) return;
      const key = `${space}\u0000${stream}`;
      const passed = Math.floor(version / every) > Math.floor(expectedVersion / every);
      const held = cache.get(key);
      // Exactly these events at exactly these versions, onto exactly the snapshot before them:
      // the one held here is of the list's own events only if it ends with the event the push
      // named (after a failover lost writes, others may have written other events there).
      if (
        events.length > 0 &&
        version === expectedVersion + events.length &&
        (expectedVersion === 0 ||
          (held?.version === expectedVersion && expectedId !== undefined && held.id === expectedId))
      ) {
        try {
          const snapshot = foldStream(
            models,
            stream,
            expectedVersion === 0 ? undefined : held,
            events,
            // Folded by this process: its state needs no parse.
            true,
          );
          if (passed && JSON.stringify(snapshot).length > maxSnapshotBytes) {
            cache.delete(key);
            return;
          }
          remember(key, snapshot);
          if (passed) write(space, snapshot);
          return;
        } catch {
          // Not foldable here (a rule of another build): the background fold reads it again.
        }
      }
      cache.delete(key);
      // Bounded: past this many streams waiting, a join folds the rest itself.
      if (!passed || waiting.size >= 10_000) return;
      waiting.set(key, { space, stream });
      start();
    },

    async stored(space, stream) {
      if (!foldable(stream)) return undefined;
      const keys = keysOf(space);
      const raw = await redis.hget(keys.snaps, stream);
      const base = raw === null ? undefined : storedSnapshot(models, stream, raw);
      if (base === undefined || base === 'newer') return undefined;
      const idThere = idOf(await redis.lindex(keys.list(stream), base.version - 1));
      return idThere === base.id ? base : undefined;
    },

    async idle() {
      while (running || writes.size > 0) await Promise.all([running, ...writes]);
    },
  };
}
