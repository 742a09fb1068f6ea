import type { Model } from '../../model.ts';
import { counterCodec } from './codec.ts';
import {
  nameProblem,
  normalName,
  counter,
  counterCommandSchema,
  counterStateSchema,
  type CounterCommand,
  type CounterContext,
  type CounterEvent,
  type CounterState,
} from './decider.ts';
import { counterCommandsOf } from './legacy-commands.ts';
import { uniqueNames } from './names.ts';
import { counterList } from './projections.ts';

/**
 * The counter model, as the engine, sync and the server take it: `counter-<id>` streams. Its first
 * screen (the counters in the board's order) joins the board's view, so the list of models adds it
 * (`core/models/first-screen.ts`).
 */
export const counterModel: Model<CounterState, CounterCommand, CounterEvent, CounterContext> = {
  decider: counter,
  commandSchema: counterCommandSchema,
  stateSchema: counterStateSchema,
  codec: counterCodec,
  projections: [counterList],
  rules: uniqueNames,
  rowStates: async (read) =>
    (await read(counterList)).map(
      (row) =>
        [
          row.id,
          {
            exists: true,
            name: row.name,
            value: row.value,
            ...(row.archived ? { archived: true as const } : {}),
          },
        ] as const,
    ),
  label: (state, commands) =>
    state.exists ? state.name : commands.find((command) => command.type === 'create')?.name,
  historyLine: (state) =>
    state.exists ? { name: state.name, value: state.value } : { name: '', value: 0 },
  commandsOf: counterCommandsOf,
  checkSequence(expectedVersion, events) {
    for (const event of events) {
      // A name exactly as a device of this version writes it: normal, visible, at most 60.
      const name = (event as { data?: { name?: unknown } }).data?.name;
      if (typeof name === 'string') {
        if (name !== normalName(name))
          return 'A counter name must be written normalised (NFC, no invisible characters, single spaces).';
        const problem = nameProblem(name);
        if (problem) return problem;
      }
      if (event.type === 'Deleted')
        return 'Only the server deletes a counter (DELETE /api/spaces/:space/streams/:stream).';
      if (event.version === 1 && event.type !== 'Created')
        return 'A counter’s history starts with Created.';
      if (event.version > 1 && event.type === 'Created')
        return 'A counter is created once: Created only starts its history.';
    }
    return expectedVersion < 0 ? 'A stream has no negative version.' : undefined;
  },
  // A name, a value, a step, a flag: small whatever the history, each event folded in O(1).
  foldOnServer: true,
  deletion: {
    tombstone: 'Deleted',
    refuse: (state) =>
      !state.exists
        ? 'That counter does not exist.'
        : state.archived
          ? undefined
          : `Only an archived counter can be deleted forever, and “${state.name}” is not archived.`,
  },
};
