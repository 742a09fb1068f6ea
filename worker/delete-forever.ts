import type { StreamId } from '../core/envelope.ts';
import { TallyError } from '../core/errors.ts';
import type { Engine } from './engine.ts';
import type { SyncManager } from './sync-manager.ts';

/**
 * "Delete forever" (docs/architecture.md, "Deleting forever"): the stream's model must allow it
 * here (a counter must be archived), and its archive must have reached the server; then the
 * server deletes it for every device of the space (its tombstone reaches the others through the
 * feed), and only then is it dropped here. When the server cannot be reached, nothing is deleted.
 */
export async function deleteForever(
  engine: Engine,
  sync: SyncManager | undefined,
  stream: StreamId,
): Promise<void> {
  const model = engine.models.modelOf(stream);
  if (!model.deletion) throw new TallyError('invalid', 'That cannot be deleted.');
  // Joined from a snapshot: folded on from its base.
  const { base, events } = await engine.readHeld(stream);
  let state: unknown = base?.state ?? model.decider.initialState();
  for (const event of events) state = model.decider.evolve(state, event);
  const refused = model.deletion.refuse(state);
  if (refused) throw new TallyError('rejected', refused);
  const name = model.label(state, []) ?? 'It';
  // The outbox is written behind the appends: read beside them.
  const pending = await engine.store.beside(
    () => engine.db.countFromIndex('outbox', 'byStream', stream),
    { readOnly: true },
  );
  const syncing = sync !== undefined && sync.current().state !== 'off';
  if (pending > 0 && syncing)
    throw new TallyError(
      'rejected',
      `“${name}” is archived here, but the sync server has not heard of it yet. Try again once this device is synced.`,
    );
  await sync?.deleteStream(stream);
  await engine.forget(stream);
}
