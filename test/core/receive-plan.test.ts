import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../core/append-plan.ts';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { StoredEvent } from '../../core/event-store.ts';
import {
  DivergedError,
  planExtend,
  planReceive,
  type StreamAtReceive,
} from '../../core/receive-plan.ts';

const stream = 'counter-planned';
const event = (version: number, id: string, command: string): EventEnvelope => ({
  id,
  stream,
  version,
  type: 'Incremented',
  data: {},
  meta: { time: 1, device: 'device-plan-001', command, schema: 1 },
});

/**
 * A stream as a device holds it: `confirmed` events the server has, then pending commands of
 * one or two events each; and the server's view: the same confirmed events, then some echoes of
 * the device's first pending commands, then foreign events.
 */
const scenario = fc
  .record({
    confirmed: fc.nat({ max: 6 }),
    commandSizes: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 5 }),
    echoedCommands: fc.nat({ max: 5 }),
    foreign: fc.nat({ max: 4 }),
    foreignReusesCommand: fc.boolean(),
    redelivered: fc.nat({ max: 3 }),
  })
  .map((s) => {
    const confirmedEvents = Array.from({ length: s.confirmed }, (_, i) =>
      event(i + 1, `evt-confirmed-${i + 1}`, `cmd-confirmed-${i + 1}`),
    );
    let version = s.confirmed;
    let position = 100;
    const tail: StoredEvent[] = [];
    const outbox: OutboxEntry[] = s.commandSizes.map((size, c) => {
      const events = Array.from({ length: size }, () => {
        const e = {
          ...event(++version, `evt-mine-${version}`, `cmd-mine-${c}`),
          position: ++position,
        };
        tail.push(e);
        return { id: e.id, version: e.version };
      });
      return {
        seq: c + 1,
        commandId: `cmd-mine-${c}`,
        stream,
        commands: [{ type: 'increment' }],
        events,
      };
    });
    const echoed = Math.min(s.echoedCommands, outbox.length);
    const echoes = outbox.slice(0, echoed).flatMap((entry) => entry.events);
    const echoEvents = tail.slice(0, echoes.length).map(({ position: _, ...e }) => e);
    const base = s.confirmed + echoes.length;
    const reused = outbox[echoed]?.commandId;
    const foreign = Array.from({ length: s.foreign }, (_, i) =>
      event(
        base + i + 1,
        `evt-theirs-${i}`,
        s.foreignReusesCommand && reused && i === 0 ? reused : `cmd-theirs-${i}`,
      ),
    );
    const redelivered = confirmedEvents.slice(Math.max(0, s.confirmed - s.redelivered));
    const at: StreamAtReceive = {
      stream,
      version,
      confirmed: s.confirmed,
      tail,
      outbox,
      confirmedIds: new Map(confirmedEvents.map((e) => [e.version, e.id])),
      rejected: new Set(reused ? [reused] : []),
    };
    return { at, remote: [...redelivered, ...echoEvents, ...foreign], echoed, foreign, outbox };
  });

describe('what the server’s events do to a stream (planReceive)', () => {
  it('echoes confirm, foreign events extend or rebase, and nothing of ours is lost', () => {
    fc.assert(
      fc.property(scenario, ({ at, remote, echoed, foreign, outbox }) => {
        const plan = planReceive(at, remote, false);
        if (plan.type === 'gap') throw new Error('no gap was made');
        const echoedEvents = outbox.slice(0, echoed).flatMap((entry) => entry.events).length;
        expect(plan.confirmed).toBe(at.confirmed + echoedEvents);
        // Exactly the echoed commands leave the outbox.
        expect(plan.doneOutbox).toEqual(outbox.slice(0, echoed).map((entry) => entry.seq));
        const pendingLeft = outbox.length - echoed;
        if (foreign.length === 0) expect(plan.type).toBe('confirm');
        else if (pendingLeft === 0) expect(plan.type).toBe('extend');
        else {
          expect(plan.type).toBe('rebase');
          if (plan.type !== 'rebase') return;
          // Every pending command not yet confirmed is either re-decided or came back as the
          // server's own (same command id under other event ids): none is dropped silently.
          const foreignCommands = new Set(foreign.map((e) => e.meta.command));
          const stillPending = outbox.slice(echoed);
          expect(plan.redecide.map((c) => c.commandId)).toEqual(
            stillPending
              .filter((entry) => !foreignCommands.has(entry.commandId))
              .map((e) => e.commandId),
          );
          expect(plan.dropped.map((e) => e.id)).toEqual(
            at.tail.slice(echoedEvents).map((e) => e.id),
          );
          expect(plan.clearRejections).toEqual(
            [...at.rejected].filter((id) => foreignCommands.has(id)),
          );
        }
      }),
    );
  });

  it('is idempotent: the same events again change nothing', () => {
    fc.assert(
      fc.property(scenario, ({ at, remote, echoed, outbox }) => {
        const first = planReceive(at, remote, false);
        if (first.type !== 'confirm') return;
        // Carry the confirm out, then hear the same events again.
        const echoedEvents = outbox.slice(0, echoed).flatMap((entry) => entry.events).length;
        const after: StreamAtReceive = {
          ...at,
          confirmed: first.confirmed,
          tail: at.tail.slice(echoedEvents),
          outbox: outbox.slice(echoed),
          confirmedIds: new Map([
            ...at.confirmedIds,
            ...at.tail.slice(0, echoedEvents).map((e) => [e.version, e.id] as const),
          ]),
        };
        const again = planReceive(after, remote, false);
        expect(again).toEqual({
          type: 'confirm',
          confirmed: first.confirmed,
          doneOutbox: [],
          clearRejections: first.clearRejections,
        });
      }),
    );
  });

  it('never guesses over a gap, and names a split history', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 2, max: 5 }), ({ at }, skip) => {
        const ahead = event(at.confirmed + skip, 'evt-ahead', 'cmd-ahead');
        expect(planReceive(at, [ahead], false)).toEqual({ type: 'gap' });
        if (at.confirmed === 0) return;
        const other = event(at.confirmed, 'evt-not-ours', 'cmd-not-ours');
        expect(() => planReceive(at, [other], false)).toThrow(DivergedError);
      }),
    );
  });

  it('a re-check re-decides the pending suffix without new events', () => {
    fc.assert(
      fc.property(scenario, ({ at, outbox }) => {
        const plan = planReceive(at, [], true);
        expect(plan.type).toBe(outbox.length > 0 ? 'rebase' : 'confirm');
        if (plan.type === 'rebase') expect(plan.redecide).toHaveLength(outbox.length);
      }),
    );
  });
});

describe('a stream joined from a snapshot (a base)', () => {
  const base = { version: 5, id: 'evt-base-5', space: 'space-plan' };
  const at: StreamAtReceive = {
    stream,
    version: 7,
    confirmed: 7,
    base,
    tail: [],
    outbox: [],
    confirmedIds: new Map([
      [6, 'evt-6'],
      [7, 'evt-7'],
    ]),
    rejected: new Set(),
  };

  it('holds what the snapshot counted: the feed repeating versions below the base changes nothing', () => {
    const repeat = [1, 2, 3, 4].map((v) => event(v, `evt-anything-${v}`, `cmd-${v}`));
    const plan = planReceive(
      at,
      [...repeat, event(5, base.id, 'cmd-5'), event(6, 'evt-6', 'c')],
      false,
    );
    expect(plan).toMatchObject({ type: 'confirm', confirmed: 7 });
  });

  it('names a split history at the base itself, where the id is known', () => {
    expect(() => planReceive(at, [event(5, 'evt-other-5', 'cmd-5')], false)).toThrow(DivergedError);
  });

  it('extends past the base and keeps it in the head', () => {
    const plan = planReceive(at, [event(8, 'evt-8', 'cmd-8')], false);
    expect(plan.type).toBe('extend');
    if (plan.type !== 'extend') return;
    const writes = planExtend(at, plan.foreign, 10, new Map(), () => []);
    expect(writes.head).toEqual({ stream, version: 8, confirmed: 8, base });
  });
});
