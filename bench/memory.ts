import type { Page } from 'playwright-core';
import { createJobs, drive } from './pages.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';

const MAX_RESIDENT = 10_000; // the registry's default, which the SharedWorker's engine uses
const MiB = 2 ** 20;

/**
 * §7: the engine worker's JS heap, after a full GC, read over the DevTools protocol (Runtime.
 * getHeapUsage on the SharedWorker target), with 10,000 and then 100,000 counters created. The
 * resident count is read from the worker's heap too: the registry's Map of actors.
 */
export async function measureMemory(bench: Bench, page: Page): Promise<Row[]> {
  const { probe, log } = bench;
  const empty = await probe.heapAfterGc();
  log('§7 creating 10,000 counters');
  await drive(page, createJobs('mem', 10_000), 500, { settle: true });
  const heap10k = await probe.heapAfterGc();
  const at10k = await probe.registry();
  log('§7 creating 90,000 more counters');
  // Timed until what they left behind their appends (heads, rows) is stored too.
  const more = await drive(page, createJobs('mem', 90_000, 10_000), 500, { settle: true });
  const heap100k = await probe.heapAfterGc();
  const at100k = await probe.registry();
  const perCounter = (heap10k - empty) / 10_000;
  return [
    {
      section: '7 memory',
      figure: 'worker heap, 10,000 counters resident (after GC)',
      value: heap10k / MiB,
      unit: 'MiB',
      baseline: { label: 'engine with no counters', value: empty / MiB },
      note: `≈ ${perCounter.toFixed(0)} B per resident counter; resident ${at10k?.resident ?? '?'}`,
    },
    {
      section: '7 memory',
      figure: 'worker heap, 100,000 counters created (after GC)',
      value: heap100k / MiB,
      unit: 'MiB',
      baseline: { label: '10,000 counters', value: heap10k / MiB },
      note: `≈ ${((heap100k - heap10k) / 90_000).toFixed(0)} B per further counter (not resident: read model row + name)`,
    },
    {
      section: '7 memory',
      figure: 'creating counters, the engine warm: 90,000 more (10,000 → 100,000), 500 in flight',
      value: (90_000 / more.ms) * 1000,
      unit: 'commands/s',
      ...(bench.strictPuts ? { baseline: bench.strictPuts } : {}),
      note: 'each a new aggregate with its name checked against every other; timed until what it leaves behind its appends is stored; 10,000 stay resident',
    },
    {
      section: '7 memory',
      figure: 'resident actors after 100,000 counters',
      value: at100k?.resident ?? null,
      unit: 'actors',
      baseline: { label: 'maxResident', value: MAX_RESIDENT },
      note:
        at100k && at100k.resident <= MAX_RESIDENT
          ? 'bound holds'
          : at100k
            ? 'BOUND EXCEEDED'
            : 'registry not found in the worker heap',
    },
  ];
}
