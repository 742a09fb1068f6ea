import { z } from './zod.ts';
import { idSchema, streamIdSchema, type EventEnvelope } from './envelope.ts';
import { TallyError } from './errors.ts';
import type { ModelSet } from './model.ts';
import { project, rowKey, type RowRef } from './projection.ts';

/** Rows one stream feeds, at most (a model's views: a counter feeds one). */
const maxRowsPerStream = 16;

/**
 * One stream folded up to a version, with the same model code a device runs (core is
 * isomorphic): its aggregate state and the read-model rows its events made. What a device joining
 * a space takes instead of the stream's whole history (docs/architecture.md, "Joining a space").
 */
export const streamSnapshotSchema = z.strictObject({
  stream: streamIdSchema,
  version: z.number().check(z.int(), z.positive()),
  /** The id of the stream's event at `version`: what the device's next push names. */
  id: idSchema,
  /** The model's `stateVersion` the state is in: a device of another shape does not take it. */
  modelVersion: z.number().check(z.int(), z.nonnegative()),
  state: z.unknown(),
  /** Every row of the stream's views, as the device's own projections would have made it. */
  rows: z
    .array(
      z.strictObject({
        view: z.string().check(z.minLength(1), z.maxLength(64)),
        key: z.string().check(z.maxLength(256)),
        value: z.unknown(),
      }),
    )
    .check(z.maxLength(maxRowsPerStream)),
});
export type StreamSnapshot = z.infer<typeof streamSnapshotSchema>;

/**
 * `base` folded on with `events` (the stream's next events, in order): the model's `evolve` for
 * the state, its projections for the rows, exactly as a device applies them. Throws `invalid`
 * when the events do not follow `base` (a gap, another stream) or the base is of another shape
 * than the model's today (fold again from the first event instead). A base read from storage is
 * parsed with the model's state schema; one this process folded itself (`folded`) is not.
 */
export function foldStream(
  models: ModelSet,
  stream: string,
  base: StreamSnapshot | undefined,
  events: readonly EventEnvelope[],
  folded = false,
): StreamSnapshot {
  const model = models.modelOf(stream);
  const { decider } = model;
  if (base && (base.stream !== stream || base.modelVersion !== decider.stateVersion))
    throw new TallyError('invalid', `The snapshot of ${stream} is of another shape.`);
  let state: unknown = !base
    ? decider.initialState()
    : folded
      ? base.state
      : model.stateSchema.parse(base.state);
  let version = base?.version ?? 0;
  let id = base?.id;
  const rows = new Map<string, unknown>();
  const refs = new Map<string, RowRef>();
  for (const row of base?.rows ?? []) {
    const ref = { view: row.view, key: row.key };
    rows.set(rowKey(ref), row.value);
    refs.set(rowKey(ref), ref);
  }
  for (const event of events) {
    if (event.stream !== stream || event.version !== version + 1)
      throw new TallyError(
        'invalid',
        `Event ${event.id} is not ${stream}'s version ${version + 1}: a snapshot folds a stream in order.`,
      );
    state = decider.evolve(state, event);
    // The position is the device's own store order; no projection reads it.
    project([{ ...event, position: event.version }], models.of, rows, refs);
    version = event.version;
    id = event.id;
  }
  if (version === 0 || id === undefined)
    throw new TallyError('invalid', `A snapshot of ${stream} needs at least one event.`);
  const made = [...refs]
    .filter(([k]) => rows.has(k))
    .map(([k, ref]) => ({ ...ref, value: rows.get(k) }));
  if (made.length > maxRowsPerStream)
    throw new TallyError('invalid', `${stream} feeds more than ${maxRowsPerStream} rows.`);
  return { stream, version, id, modelVersion: decider.stateVersion, state, rows: made };
}
