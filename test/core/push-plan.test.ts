import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OutboxEntry, StreamHead } from '../../core/append-plan.ts';
import type { StoredEvent } from '../../core/event-store.ts';
import { commandsThatFit, morePending, pushStreamOf } from '../../core/push-plan.ts';
import type { PushStream } from '../../core/sync-port.ts';

/** An outbox: per stream, its commands' event counts, in order; interleaved across streams. */
const outboxArb = fc
  .array(
    fc.tuple(
      fc.constantFrom('counter-a', 'counter-b', 'counter-c'),
      fc.integer({ min: 1, max: 4 }),
    ),
    {
      maxLength: 12,
    },
  )
  .map((commands) => {
    const next = new Map<string, number>();
    return commands.map(([stream, size], i): OutboxEntry => {
      const from = next.get(stream) ?? 1;
      next.set(stream, from + size);
      return {
        commandId: `cmd-${i}`,
        stream,
        commands: [],
        events: Array.from({ length: size }, (_, k) => ({
          id: `evt-${stream}-${from + k}`,
          version: from + k,
        })),
      };
    });
  });

const event = (stream: string, version: number): StoredEvent => ({
  id: `evt-${stream}-${version}`,
  stream,
  version,
  position: version,
  type: 'Incremented',
  data: {},
  meta: { time: 1, device: 'device-000001', command: 'cmd-1', schema: 1 },
});

describe('the next push, decided (core/push-plan.ts)', () => {
  it('commandsThatFit: whole commands, each stream’s first ones, within the room', () => {
    fc.assert(
      fc.property(outboxArb, fc.integer({ min: 0, max: 12 }), (rows, room) => {
        const { fit, leftOut } = commandsThatFit(rows, room);
        expect(fit.reduce((n, { versions }) => n + versions.length, 0)).toBeLessThanOrEqual(room);
        let taken = 0;
        const order = [...new Set(rows.map(({ stream }) => stream))];
        expect(fit.map(({ stream }) => stream)).toEqual(
          order.filter((stream) => fit.some((f) => f.stream === stream)),
        );
        for (const { stream, versions } of fit) {
          // A prefix of the stream's commands, whole.
          const commands = rows.filter((row) => row.stream === stream);
          let k = 0;
          const prefix: number[] = [];
          while (prefix.length < versions.length)
            prefix.push(...commands[k++]!.events.map(({ version }) => version));
          expect(versions).toEqual(prefix);
          taken += k;
        }
        expect(leftOut).toBe(taken < rows.length);
        if (room >= rows.reduce((n, row) => n + row.events.length, 0)) expect(leftOut).toBe(false);
      }),
    );
  });

  it('morePending: exactly when a stream not waiting has a command past what is pushed', () => {
    fc.assert(
      fc.property(outboxArb, fc.integer({ min: 0, max: 12 }), fc.boolean(), (rows, room, wait) => {
        const { fit } = commandsThatFit(rows, room);
        const streams = fit.map(({ stream, versions }) => ({
          stream,
          expectedVersion: versions[0]! - 1,
          events: versions.map((version) => event(stream, version) as PushStream['events'][number]),
        }));
        const waiting = new Set(wait ? ['counter-a'] : []);
        const pushedEvents = fit.reduce((n, { versions }) => n + versions.length, 0);
        const eventsOutside = rows
          .filter(({ stream }) => !waiting.has(stream))
          .reduce((n, row) => n + row.events.length, 0);
        const pushedOutside = fit
          .filter(({ stream }) => !waiting.has(stream))
          .reduce((n, { versions }) => n + versions.length, 0);
        expect(morePending(rows, streams, waiting)).toBe(eventsOutside > pushedOutside);
        expect(pushedEvents).toBeLessThanOrEqual(room);
      }),
    );
  });

  it('pushStreamOf: pushed only at its confirmed head, with the versions after it', () => {
    fc.assert(
      fc.property(
        fc.nat(5),
        fc.nat(5),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('none', 'here', 'elsewhere'),
        fc.boolean(),
        (confirmed, inMemory, versions, base, storedId) => {
          const stream = 'counter-a';
          const head: StreamHead = {
            stream,
            version: 12,
            confirmed,
            ...(base === 'none'
              ? {}
              : {
                  base: {
                    version: confirmed,
                    id: 'evt-base0001',
                    space: base === 'here' ? 'space-1' : 'space-2',
                  },
                }),
          };
          const pushed = pushStreamOf(
            {
              stream,
              head,
              stored: versions.map((version) => event(stream, version)),
              expectedId: storedId ? { expectedId: 'evt-stored01' } : {},
            },
            'space-1',
            inMemory,
            (record) => record as StoredEvent,
          );
          const at = Math.max(confirmed, inMemory);
          const follows = versions.every((version, i) => version === at + i + 1);
          if (base === 'elsewhere' || !follows) {
            expect(pushed).toBeUndefined();
            return;
          }
          expect(pushed?.expectedVersion).toBe(at);
          expect(pushed?.events.map((e) => e.version)).toEqual(versions);
          // Sent without the store's position.
          expect(pushed?.events.every((e) => !('position' in e))).toBe(true);
          expect(pushed?.expectedId).toBe(
            storedId
              ? 'evt-stored01'
              : base === 'here' && at === confirmed
                ? 'evt-base0001'
                : undefined,
          );
        },
      ),
    );
  });
});
