import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { streamIdPattern } from '../../core/envelope.ts';
import { TallyError } from '../../core/errors.ts';
import { models as allModels, type ModelSet } from '../../core/model-list.ts';
import type { StreamEventsResponse } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceGate } from '../auth.ts';
import type { SyncStore } from '../redis-store.ts';
import { parseLimit } from './events.ts';
import type { Envelope } from '../stored-event.ts';

/** Events read per round trip while a deletion folds a stream past its snapshot. */
const foldPage = 1_000;

/** Versions a space may hold at most (its quota's bound), so every version it has is reachable. */
const maxAfter = 1_000_000_000;

/** A version written plainly (no sign, no leading zeros), from 0 to `maxAfter`; absent: 0. */
function parseAfter(value: string | undefined): number {
  if (value === undefined) return 0;
  const after = /^(0|[1-9]\d{0,9})$/.test(value) ? Number(value) : Number.NaN;
  if (!(after <= maxAfter))
    throw new TallyError('invalid', `after must be a whole number from 0 to ${maxAfter}.`);
  return after;
}

/**
 * `GET /api/spaces/:space/streams/:stream/events?after=<version>&limit=<1..1000>` → 200
 * `StreamEventsResponse`: one stream's events after a version, a page at a time (the history a
 * device that joined by snapshots reads when asked for it); 404 for a stream deleted forever.
 *
 * `DELETE /api/spaces/:space/streams/:stream` → 204: deletes a stream forever, for every device
 * of the space (a person's "Delete forever" of an archived counter). Its model decides whether
 * its state may be deleted (`Model.deletion`), folded from the stream's snapshot and the events
 * after it, never from a whole stream read at once; the store checks, in the same atomic step
 * that writes the tombstone, that the stream is still that long and ends with that event. A
 * retried DELETE is answered 204 again, as is one for a stream the space does not hold.
 */
export function streamsRoute(options: {
  gate: SpaceGate;
  store: () => SyncStore;
  models?: ModelSet;
}) {
  const models = options.models ?? allModels;
  const streamOf = (value: string): string => {
    if (!streamIdPattern.test(value))
      throw new TallyError('invalid', `“${value.slice(0, 80)}” is not a stream id.`);
    return value;
  };
  return new Hono<AppEnv>()
    .get(
      '/api/spaces/:space/streams/:stream/events',
      requireSpaceToken(options.gate),
      async (c) => {
        const stream = streamOf(c.req.param('stream'));
        const after = parseAfter(c.req.query('after'));
        const limit = parseLimit(c.req.query('limit'));
        const page = await options.store().readStreamPage(c.get('space'), stream, after, limit);
        if (page.type === 'deleted')
          throw new TallyError('not-found', `${stream} was deleted forever.`);
        const body: StreamEventsResponse = {
          events: [...page.events],
          version: page.version,
          more: after + page.events.length < page.version,
        };
        return c.json(body, 200);
      },
    )
    .delete('/api/spaces/:space/streams/:stream', requireSpaceToken(options.gate), async (c) => {
      const stream = streamOf(c.req.param('stream'));
      const model = models.modelOf(stream);
      const { deletion } = model;
      if (!deletion)
        throw new TallyError(
          'invalid',
          `Streams of kind “${model.decider.name}” cannot be deleted.`,
        );
      const space = c.get('space');
      const store = options.store();
      // Decided from the stream's snapshot, which pushes keep up to date every 100 events
      // (snapshots.ts), and the events after it: never the whole stream at once, which blocked
      // the server for seconds on a long one. A stream may still have no snapshot this build can
      // use however long it is (grown before the index, folded by an older model shape, cut by
      // a failover), so the rest is read a page at a time: one page in memory, other requests
      // served between them.
      const base = await store.streamSnapshot?.(space, stream);
      let state: unknown = base ? base.state : model.decider.initialState();
      let length = base?.version ?? 0;
      let lastId = base?.id;
      for (;;) {
        const page = await store.readStreamPage(space, stream, length, foldPage);
        if (page.type === 'deleted') {
          // Deleted already: answered as done, and the sweep finishes what a crash cut short.
          await store.deleteStream(space, stream, { length: 0, lastId: '' }, page.tombstone);
          return c.body(null, 204);
        }
        for (const event of page.events)
          state = model.decider.evolve(state, model.codec.decodeEnvelope(event));
        length += page.events.length;
        lastId = page.events.at(-1)?.id ?? lastId;
        // Its end; or none past the snapshot, the list cut shorter meanwhile (a failover): the
        // delete script then finds it changed.
        if (page.events.length === 0 || length >= page.version) break;
      }
      // Never here (or lost with a failover's last writes): nothing of it on the server, which
      // is what the device asks for. A 404 would be any missing route to an older instance.
      if (lastId === undefined) return c.body(null, 204);
      const refused = deletion.refuse(state);
      if (refused) throw new TallyError('conflict', `${refused} Nothing was deleted.`);
      const tombstone: Envelope = {
        id: randomUUID(),
        stream,
        version: length + 1,
        type: deletion.tombstone,
        data: {},
        meta: {
          time: Date.now(),
          device: c.get('device'),
          command: randomUUID(),
          schema: model.codec.schemaOf(deletion.tombstone),
        },
      };
      const outcome = await store.deleteStream(space, stream, { length, lastId }, tombstone);
      if (outcome === 'changed')
        throw new TallyError(
          'conflict',
          'It changed on another device while being deleted (restored, perhaps). Nothing was deleted.',
        );
      return c.body(null, 204);
    });
}
