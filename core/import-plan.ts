import type { EventEnvelope, StreamId } from './envelope.ts';
import type { Commit } from './event-store.ts';
import { TallyError } from './errors.ts';
import type { ModelSet } from './model.ts';

/** What a profile holds of a stream: its events' ids in version order. */
export type LocalStreams = ReadonlyMap<StreamId, readonly string[]>;

export type ImportStream = {
  readonly stream: StreamId;
  /** What a person calls it (a counter's name after the backup's events). */
  readonly name: string;
  /** Events of the backup this profile does not hold yet, to be appended after its own. */
  readonly add: readonly EventEnvelope[];
  /** True when this profile has nothing of the stream yet. */
  readonly fresh: boolean;
};

export type ImportPlan = {
  readonly streams: readonly ImportStream[];
  /** Events of the backup this profile holds already (the same ids at the same versions). */
  readonly known: number;
  /** Streams whose history here differs from the backup's: left as they are here, said why. */
  readonly skipped: readonly {
    readonly stream: StreamId;
    readonly name: string;
    readonly reason: string;
  }[];
};

/**
 * What importing a backup adds (README, "Backup"): per stream, the backup's events after what
 * this profile holds of it, when that is a prefix of the backup's (same ids, same versions); a
 * second import of the same file adds nothing. A stream whose history here went another way is
 * skipped and named, never merged by guessing. An event id this profile holds as another event
 * refuses the whole file: an event id names one event.
 */
export function planImport(
  backup: ReadonlyMap<StreamId, readonly EventEnvelope[]>,
  local: LocalStreams,
  localIds: ReadonlyMap<string, string>,
  models: ModelSet,
): ImportPlan {
  const streams: ImportStream[] = [];
  const skipped: { stream: StreamId; name: string; reason: string }[] = [];
  let known = 0;
  for (const [stream, events] of backup) {
    const model = models.modelOf(stream);
    const state = events.reduce(
      (folded: unknown, event) => model.decider.evolve(folded, event),
      model.decider.initialState(),
    );
    const name = model.label(state, []) ?? stream;
    const here = local.get(stream) ?? [];
    const differs = events.findIndex((event, i) => i < here.length && here[i] !== event.id);
    if (differs >= 0) {
      skipped.push({
        stream,
        name,
        reason: `its history here differs from the backup’s from change ${differs + 1} on, so it stays as it is here.`,
      });
      continue;
    }
    const add = events.slice(here.length);
    known += events.length - add.length;
    for (const event of add) {
      const where = localIds.get(event.id);
      if (where !== undefined)
        throw new TallyError(
          'invalid',
          `This backup cannot be imported: event ${event.id} is already here as another event (${where}).`,
        );
    }
    if (add.length > 0) streams.push({ stream, name, add, fresh: here.length === 0 });
  }
  return { streams, known, skipped };
}

/**
 * The commits that append a plan's events: one per run of one command, with the commands that
 * decide exactly those events, so they are pending for sync like commands made here (a space
 * that already has them answers them as its own).
 */
export function importCommits(plan: ImportPlan, local: LocalStreams, models: ModelSet): Commit[] {
  const commits: Commit[] = [];
  for (const { stream, add } of plan.streams) {
    const model = models.modelOf(stream);
    let expectedVersion = local.get(stream)?.length ?? 0;
    let run: EventEnvelope[] = [];
    const flush = () => {
      const first = run[0];
      if (!first) return;
      commits.push({
        stream,
        expectedVersion,
        events: run,
        command: { id: first.meta.command, commands: model.commandsOf(run) },
      });
      expectedVersion += run.length;
      run = [];
    };
    for (const event of add) {
      if (run[0] && run[0].meta.command !== event.meta.command) flush();
      run.push(event);
    }
    flush();
  }
  return commits;
}
