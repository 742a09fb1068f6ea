import type { Page } from 'playwright-core';
import type { CounterCommand } from '../core/counter.ts';
import { counterStream, createJobs, drive, idbCall } from './pages.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';

export const COUNTERS = 1_000;
const COMMANDS = 20_000;
const IN_FLIGHT = 1_000;

/**
 * §3: many commands at once over many aggregates, from the bench page (no UI subscribed, so the
 * figure is the engine's), beside raw IndexedDB writes of as many events.
 */
export async function measureThroughput(bench: Bench, page: Page): Promise<Row[]> {
  const { probe, log } = bench;
  log(`§3 creating ${COUNTERS} counters`);
  const created = await drive(page, createJobs('tp', COUNTERS), 200);
  const jobs: [string, CounterCommand[]][] = Array.from({ length: COMMANDS }, (_, i) => [
    counterStream('tp', i % COUNTERS),
    [{ type: 'increment' }],
  ]);
  log(`§3 ${COMMANDS} increments over ${COUNTERS} counters, ${IN_FLIGHT} in flight`);
  const before = await probe.registry();
  const { ms } = await drive(page, jobs, IN_FLIGHT);
  const after = await probe.registry();
  const txs = before && after ? after.transactions - before.transactions : Number.NaN;

  log('§3 baselines: raw IndexedDB puts');
  const batchedMs = await idbCall<number>(page, 'bulk', COMMANDS, 1_000);
  const singleMs = await idbCall<number>(page, 'bulk', 2_000, 1);
  return [
    {
      section: '3 throughput',
      figure: `${COMMANDS.toLocaleString('en-US')} commands over ${COUNTERS.toLocaleString('en-US')} aggregates, ${IN_FLIGHT} in flight`,
      value: (COMMANDS / ms) * 1000,
      unit: 'commands/s',
      baseline: {
        label: 'raw IDB puts, 1,000 per tx',
        value: (COMMANDS / batchedMs) * 1000,
        unit: 'events/s',
      },
      note: `${txs} IDB transactions (${(COMMANDS / txs).toFixed(1)} commands per tx)`,
    },
    {
      section: '3 throughput',
      figure: 'reference: raw IDB puts, 1 per tx (2,000 events)',
      value: (2_000 / singleMs) * 1000,
      unit: 'events/s',
    },
    {
      section: '3 throughput',
      figure: `creating ${COUNTERS.toLocaleString('en-US')} counters, 200 in flight`,
      value: (COUNTERS / created.ms) * 1000,
      unit: 'commands/s',
    },
  ];
}
