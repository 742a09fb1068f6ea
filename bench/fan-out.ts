import type { Page } from 'playwright-core';
import { counterStream, type Win } from './pages.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { percentile } from './stats.ts';

const ROUNDS = 500;

/**
 * §4: from one tab's command to another tab's `counters` subscription seeing it. Both pages stamp
 * with performance.timeOrigin + performance.now(), one clock across the tabs of one browser.
 */
export async function measureFanOut(bench: Bench, a: Page, b: Page): Promise<Row[]> {
  bench.log(`§4 fan-out to a second tab, ${ROUNDS} commands`);
  const stream = counterStream('fan', 0);
  await b.evaluate((stream) => {
    const seen = new Map<number, number>();
    (globalThis as unknown as { fanSeen: Map<number, number> }).fanSeen = seen;
    (globalThis as unknown as Win).tally.subscribe(
      { topic: 'view', view: 'counters' },
      (update) => {
        if (update.type !== 'view') return;
        const at = performance.timeOrigin + performance.now();
        for (const { key, value } of update.rows)
          if (key === stream && !seen.has((value as { value: number }).value))
            seen.set((value as { value: number }).value, at);
      },
    );
  }, stream);
  const sent = await a.evaluate(
    async ([stream, rounds]) => {
      const { tally } = globalThis as unknown as Win;
      const now = () => performance.timeOrigin + performance.now();
      await tally.execute(stream, { type: 'create', name: 'Fan-out' });
      const out: { value: number; start: number; ack: number }[] = [];
      for (let i = 0; i < rounds; i++) {
        const start = now();
        const result = await tally.execute(stream, { type: 'increment' });
        if (result.type !== 'accepted') throw new Error(result.reason);
        out.push({ value: i + 1, start, ack: now() });
      }
      return out;
    },
    [stream, ROUNDS] as const,
  );
  await b.waitForFunction(
    (rounds) => (globalThis as unknown as { fanSeen: Map<number, number> }).fanSeen.has(rounds),
    ROUNDS,
  );
  const seen = new Map(
    await b.evaluate(() => [
      ...(globalThis as unknown as { fanSeen: Map<number, number> }).fanSeen,
    ]),
  );
  const toOther = sent.map(({ value, start }) => seen.get(value)! - start);
  const own = sent.map(({ start, ack }) => ack - start);
  const afterAck = sent.map(({ value, ack }) => seen.get(value)! - ack);
  return [
    {
      section: '4 fan-out',
      figure: `command → other tab's subscription sees it, p50 (n=${ROUNDS})`,
      value: percentile(toOther, 50),
      unit: 'ms',
      baseline: { label: "command → own tab's ack p50", value: percentile(own, 50) },
      note: `p99 ${percentile(toOther, 99).toFixed(2)} ms; other tab minus own ack p50 ${percentile(afterAck, 50).toFixed(2)} ms`,
    },
  ];
}
