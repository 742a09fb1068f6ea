import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planAppend, type AppendRead } from '../../core/append-plan.ts';
import type { Commit } from '../../core/event-store.ts';
import { models } from '../../core/models/index.ts';
import { TallyError } from '../../core/errors.ts';
import { rowKey } from '../../core/projection.ts';

const streams = ['counter-a0000001', 'counter-b0000002', 'counter-c0000003'];
let ids = 0;
const envelope = (stream: string, version: number, type: string, data: object) => ({
  id: `evt-${++ids}-0000`,
  stream,
  version,
  type,
  data,
  meta: { time: version, device: 'device-plan-001', command: `cmd-${ids}-000`, schema: 1 },
});

/** Commits as an actor would make them: each stream's versions follow on, some stale. */
const batch = fc
  .array(
    fc.record({
      stream: fc.constantFrom(...streams),
      increments: fc.integer({ min: 1, max: 3 }),
      stale: fc.boolean(),
    }),
    { minLength: 1, maxLength: 12 },
  )
  .map((specs) => {
    const version = new Map<string, number>();
    return specs.map(({ stream, increments, stale }): Commit => {
      const at = version.get(stream) ?? 0;
      const first = at === 0;
      const events = Array.from({ length: increments }, (_, i) =>
        first && i === 0
          ? envelope(stream, at + 1, 'Created', { name: stream })
          : envelope(stream, at + i + 1, 'Incremented', { amount: 1 }),
      );
      const expectedVersion = stale && at > 0 ? at - 1 : at;
      if (expectedVersion === at) version.set(stream, at + increments);
      return {
        stream,
        expectedVersion,
        events,
        command: { id: events[0]!.meta.command, commands: [] },
      };
    });
  });

const empty: AppendRead = { heads: new Map(), rows: new Map(), position: 0 };

describe('a group commit (planAppend)', () => {
  it('decides a batch exactly as one commit at a time would', () => {
    fc.assert(
      fc.property(batch, (commits) => {
        const together = planAppend(commits, empty, models);
        // One at a time, each plan's writes becoming the next one's reads.
        let read = empty;
        const heads = new Map<string, unknown>();
        const rows = new Map<string, unknown>();
        const outcomes = [];
        for (const commit of commits) {
          const plan = planAppend([commit], read, models);
          outcomes.push(plan.outcomes[0]);
          for (const head of plan.heads) heads.set(head.stream, head);
          for (const row of plan.rows) rows.set(rowKey(row), row.value);
          read = { heads: new Map(heads), rows: new Map(rows), position: plan.position };
        }
        expect(together.outcomes.map((o) => o instanceof TallyError)).toEqual(
          outcomes.map((o) => o instanceof TallyError),
        );
        expect(together.position).toBe(read.position);
        expect(together.events.map((e) => e.position)).toEqual(
          together.events.map((_, i) => i + 1),
        );
        const finalRows = new Map(together.rows.map((row) => [rowKey(row), row.value]));
        expect(finalRows).toEqual(rows);
        // A commit is written exactly when its stream is at its expected version by then.
        const at = new Map<string, number>();
        commits.forEach((commit, i) => {
          const current = at.get(commit.stream) ?? 0;
          const accepted = current === commit.expectedVersion;
          expect(together.outcomes[i] instanceof TallyError).toBe(!accepted);
          if (accepted) at.set(commit.stream, current + commit.events.length);
        });
        expect(new Map(together.heads.map((h) => [h.stream, h.version]))).toEqual(at);
      }),
    );
  });

  it('a damaged row fails only the commits that would write over it', () => {
    const [a, b] = streams as [string, string];
    const commits: Commit[] = [
      { stream: a, expectedVersion: 1, events: [envelope(a, 2, 'Incremented', { amount: 1 })] },
      { stream: b, expectedVersion: 0, events: [envelope(b, 1, 'Created', { name: 'B' })] },
    ];
    const plan = planAppend(
      commits,
      {
        heads: new Map([[a, { stream: a, version: 1, confirmed: 0 }]]),
        rows: new Map([[rowKey({ view: 'counters', key: a }), { id: a, value: 'lots' }]]),
        position: 7,
      },
      models,
    );
    expect(plan.outcomes[0]).toBeInstanceOf(TallyError);
    expect(String((plan.outcomes[0] as TallyError).message)).toMatch(/counters row .* is damaged/);
    expect(plan.outcomes[1]).toHaveLength(1);
    expect(plan.events.map((e) => [e.stream, e.position])).toEqual([[b, 8]]);
    expect(plan.rows.map((row) => row.key)).toEqual([b]);
  });
});
