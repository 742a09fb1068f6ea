import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OutboxEntry, StreamHead } from '../../core/append-plan.ts';
import type { StoredEvent } from '../../core/event-store.ts';
import {
  commandRuns,
  covers,
  entriesByStream,
  followCommand,
  outboxReads,
  rebuildOutbox,
} from '../../core/outbox-rebuild.ts';

type Run = {
  readonly length: number;
  /** The run's first event carries its commands (decided on this device). */
  readonly carried: boolean;
  /** An outbox entry of the same command id is held: with exactly its events, or other ones. */
  readonly own: 'exact' | 'other' | 'none';
};
type Record = StoredEvent & { readonly commands?: readonly unknown[] };

const runArb: fc.Arbitrary<Run> = fc.record({
  length: fc.integer({ min: 1, max: 3 }),
  carried: fc.boolean(),
  own: fc.constantFrom('exact', 'other', 'none'),
});

/** A stream's events from `after + 1`, one run per command, and the entries held for them. */
function eventsOf(stream: string, after: number, runs: readonly Run[], position = { next: 1 }) {
  const records: Record[] = [];
  const own: OutboxEntry[] = [];
  let version = after;
  for (const [r, run] of runs.entries()) {
    const command = `cmd-${stream}-${after}-${r}`;
    const ids: { id: string; version: number }[] = [];
    for (let i = 0; i < run.length; i++) {
      version += 1;
      const id = `evt-${stream}-${version}`;
      ids.push({ id, version });
      records.push({
        id,
        stream,
        version,
        position: position.next++,
        type: 'Incremented',
        data: {},
        meta: { time: 1, device: 'device-000001', command, schema: 1 },
        ...(i === 0 && run.carried ? { commands: [`carried ${command}`] } : {}),
      });
    }
    if (run.own !== 'none')
      own.push({
        commandId: command,
        stream,
        commands: [`own ${command}`],
        events: run.own === 'exact' ? ids : ids.map((e) => ({ ...e, id: `${e.id}-x` })),
      });
  }
  return { records, own, version };
}

const decode = (record: unknown) => record as StoredEvent;
const commandsOf = (events: readonly StoredEvent[]) => [
  `of ${events.map(({ id }) => id).join(',')}`,
];
const idsOf = (entries: readonly OutboxEntry[]) => entries.flatMap(({ events }) => events);

describe('making the outbox again from events (core/outbox-rebuild.ts)', () => {
  it('commandRuns: one entry per command run, its events in order, its commands chosen', () => {
    fc.assert(
      fc.property(
        fc.nat(5),
        fc.array(runArb, { maxLength: 8 }),
        fc.boolean(),
        (after, runs, isPending) => {
          const { records, own, version } = eventsOf('counter-s', after, runs);
          const entries = commandRuns(records, decode, commandsOf, isPending ? { own } : undefined);
          expect(entries).toHaveLength(runs.length);
          expect(idsOf(entries)).toEqual(records.map(({ id, version }) => ({ id, version })));
          expect(covers(entries, after, version)).toBe(true);
          for (const [r, run] of runs.entries()) {
            const entry = entries[r]!;
            expect(new Set(entry.events.map(({ id }) => id)).size).toBe(run.length);
            const chosen = !isPending
              ? commandsOf(records.filter((e) => e.meta.command === entry.commandId))
              : run.own === 'exact'
                ? [`own ${entry.commandId}`]
                : run.carried
                  ? [`carried ${entry.commandId}`]
                  : commandsOf(records.filter((e) => e.meta.command === entry.commandId));
            expect(entry.commands).toEqual(chosen);
          }
        },
      ),
    );
  });

  it('followCommand: an entry per command whose first event carries it, the same as commandRuns', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('counter-a', 'counter-b'), runArb), { maxLength: 8 }),
        (runs) => {
          // Whole runs, of two streams, one after another in position order.
          const position = { next: 1 };
          const at = new Map<string, number>();
          const records = runs.flatMap(([stream, run]) => {
            const made = eventsOf(stream, at.get(stream) ?? 0, [run], position);
            at.set(stream, made.version);
            return made.records;
          });
          const outbox: OutboxEntry[] = [];
          for (const record of records) followCommand(outbox, record);
          const carried = commandRuns(records, decode, commandsOf, { own: [] }).filter(
            ({ commands }) => typeof commands[0] === 'string' && commands[0].startsWith('carried'),
          );
          expect(outbox).toEqual(carried);
        },
      ),
    );
  });

  it('covers: exactly when the entries’ versions are confirmed + 1 … version, in order', () => {
    const entryArb = fc
      .array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 3 })
      .map((versions) => ({
        commandId: 'cmd-1',
        stream: 'counter-s',
        commands: [],
        events: versions.map((version) => ({ id: `evt-${version}`, version })),
      }));
    fc.assert(
      fc.property(
        fc.array(entryArb, { maxLength: 4 }),
        fc.nat(4),
        fc.nat(8),
        (entries, confirmed, version) => {
          const versions = idsOf(entries).map((e) => e.version);
          const expected =
            versions.length === version - confirmed &&
            versions.every((v, i) => v === confirmed + 1 + i);
          expect(covers(entries, confirmed, version)).toBe(expected);
        },
      ),
    );
  });

  const streamArb = fc.record({
    confirmedRuns: fc.array(runArb, { maxLength: 3 }),
    pendingRuns: fc.array(runArb, { maxLength: 4 }),
    /** What the outbox holds for it: its pending entries whole, some of them, or none. */
    held: fc.constantFrom('whole', 'part', 'none'),
    based: fc.boolean(),
  });

  it('leaves every stream’s outbox covering exactly its pending events (and all, leaving)', () => {
    fc.assert(
      fc.property(
        fc.array(streamArb, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (streams, forget) => {
          const position = { next: 1 };
          const heads: StreamHead[] = [];
          const all = new Map<string, Record[]>();
          const held: OutboxEntry[] = [];
          for (const [s, spec] of streams.entries()) {
            const stream = `counter-s${s}`;
            const confirmed = eventsOf(stream, 0, spec.confirmedRuns, position);
            const pending = eventsOf(stream, confirmed.version, spec.pendingRuns, position);
            // A stream joined from a snapshot holds no event at or below its base.
            const based = spec.based && confirmed.version > 0;
            all.set(stream, [...(based ? [] : confirmed.records), ...pending.records]);
            heads.push({
              stream,
              version: pending.version,
              confirmed: confirmed.version,
              ...(based
                ? {
                    base: {
                      version: confirmed.version,
                      id: `evt-${stream}-${confirmed.version}`,
                      space: 'space-1',
                    },
                  }
                : {}),
            });
            const exact =
              pending.records.length === 0 ? [] : commandRuns(pending.records, decode, commandsOf);
            if (spec.held === 'whole') held.push(...exact);
            if (spec.held === 'part') held.push(...exact.slice(1));
          }
          const keptOf = entriesByStream(held);
          const reads = outboxReads(heads, keptOf, forget);
          const read = reads.map(({ range: [stream, from, to] }) =>
            all.get(stream)!.filter(({ version }) => version >= from && version <= to),
          );
          const { history, unconfirmed, remade } = rebuildOutbox(
            reads,
            read,
            keptOf,
            decode,
            commandsOf,
          );
          const remadeOf = new Map(remade.map(({ stream, entries }) => [stream, entries]));
          for (const head of heads) {
            const pendingEntries = remadeOf.get(head.stream) ?? keptOf.get(head.stream) ?? [];
            expect(covers(pendingEntries, head.confirmed!, head.version)).toBe(true);
            const leftConfirmed = unconfirmed.find(({ stream }) => stream === head.stream);
            if (forget && head.confirmed! > 0 && !head.base) {
              expect(leftConfirmed).toEqual({
                stream: head.stream,
                version: head.version,
                confirmed: 0,
              });
              const mine = history.filter(({ stream }) => stream === head.stream);
              expect(covers([...mine, ...pendingEntries], 0, head.version)).toBe(true);
            } else expect(leftConfirmed).toBeUndefined();
          }
          // Streams made again come in the order of their first pending event.
          const firsts = remade.map(
            ({ stream, entries }) =>
              all.get(stream)!.find(({ id }) => id === entries[0]?.events[0]?.id)?.position ?? 0,
          );
          expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
        },
      ),
    );
  });
});
