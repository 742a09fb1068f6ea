import type { Page } from 'playwright-core';
import type { CounterCommand } from '../core/models/index.ts';
import { counterStream, createJobs, drive, idbCall } from './pages.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { median } from './stats.ts';
import { MAX_EVENTS } from '../worker/written-behind.ts';

export const COUNTERS = 1_000;
const COMMANDS = 20_000;
const IN_FLIGHT = 1_000;
/** Rounds of the engine's loads alternated with the raw strict puts (§3's medians). */
const ROUNDS = 3;

/**
 * §3: many commands at once, from the bench page (no UI subscribed, so the figure is the
 * engine's), beside raw strict IndexedDB puts of as many events, 1,000 per transaction: what the
 * disk can take when nothing but one event per command is written.
 */
export async function measureThroughput(bench: Bench, page: Page): Promise<Row[]> {
  const { probe, log } = bench;
  // Timed until what the commands left behind their appends (heads, rows) is stored too: a
  // figure that stopped at the last answer would leave up to a window of that work out.
  log(`§3 creating ${COUNTERS} counters`);
  const created = await drive(page, createJobs('tp', COUNTERS), 200, { settle: true });
  await drive(page, createJobs('hot', 1), 1, { settle: true });
  const spread: [string, CounterCommand[]][] = Array.from({ length: COMMANDS }, (_, i) => [
    counterStream('tp', i % COUNTERS),
    [{ type: 'increment' }],
  ]);
  const hot: [string, CounterCommand[]][] = Array.from({ length: COMMANDS }, () => [
    counterStream('hot', 0),
    [{ type: 'increment' }],
  ]);
  const timed = async (jobs: readonly [string, CounterCommand[]][]) => {
    const before = await probe.registry();
    const { ms } = await drive(page, jobs, IN_FLIGHT, { settle: true });
    const after = await probe.registry();
    return { ms, txs: before && after ? after.transactions - before.transactions : Number.NaN };
  };
  // The engine's own writes, raw: what its transactions hold per command, without the engine,
  // as many per transaction as the engine's round before made (where the probe could not count
  // them, the ~300 per transaction the engine has shown).
  const perEngineTxOf = ({ txs }: { txs: number }) =>
    Number.isFinite(txs) && txs > 0 ? Math.round(COMMANDS / txs) : 300;
  const shaped = (perTx: number) =>
    idbCall<number>(page, 'shapedBulk', COMMANDS, perTx, COUNTERS, 'engine', MAX_EVENTS);
  // The engine's two loads, the raw strict puts they are measured against and the engine's own
  // writes made raw, alternated ROUNDS times: on this machine one run of the baseline alone
  // swings by half from one minute to the next, and each figure is the median of its rounds.
  await idbCall<number>(page, 'bulk', 2_000, 1_000, 'strict');
  const overs: { ms: number; txs: number }[] = [];
  const ones: { ms: number; txs: number }[] = [];
  const stricts: number[] = [];
  const shapeds: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    log(
      `§3 round ${round}/${ROUNDS}: ${COMMANDS} increments over ${COUNTERS} counters, then on one, ${IN_FLIGHT} in flight; raw strict puts; the engine's writes raw`,
    );
    const spreadRun = await timed(spread);
    overs.push(spreadRun);
    ones.push(await timed(hot));
    stricts.push(await idbCall<number>(page, 'bulk', COMMANDS, 1_000, 'strict'));
    shapeds.push(await shaped(perEngineTxOf(spreadRun)));
  }
  const middle = <T extends { ms: number }>(runs: T[]): T =>
    [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)]!;
  const over = middle(overs);
  const one = middle(ones);
  const strictMs = median(stricts);
  const shapedMs = median(shapeds);
  const perEngineTx = perEngineTxOf(over);

  log('§3 baselines: raw IndexedDB puts, relaxed, one per transaction, and the engine-shaped ones');
  const relaxedMs = await idbCall<number>(page, 'bulk', COMMANDS, 1_000, 'relaxed');
  const singleMs = await idbCall<number>(page, 'bulk', 2_000, 1, 'strict');
  const syncingMs = await idbCall<number>(
    page,
    'shapedBulk',
    COMMANDS,
    perEngineTx,
    COUNTERS,
    'syncing',
    MAX_EVENTS,
  );
  const eventsMs = await idbCall<number>(
    page,
    'shapedBulk',
    COMMANDS,
    perEngineTx,
    COUNTERS,
    'events',
    MAX_EVENTS,
  );
  const rate = (n: number, ms: number) => (n / ms) * 1000;
  const baseline = {
    label: `raw strict IDB puts, 1,000 per tx (median of ${ROUNDS}, alternated with the engine's)`,
    value: rate(COMMANDS, strictMs),
    unit: 'events/s',
  };
  bench.strictPuts = baseline;
  const perTx = ({ txs }: { txs: number }, runs: readonly { ms: number }[]) =>
    `median of ${ROUNDS} (${runs.map(({ ms }) => Math.round(rate(COMMANDS, ms)).toLocaleString('en-US')).join(', ')} /s); ${txs} IDB transactions (${(COMMANDS / txs).toFixed(1)} commands per tx)`;
  return [
    {
      section: '3 throughput',
      figure: `${COMMANDS.toLocaleString('en-US')} commands over ${COUNTERS.toLocaleString('en-US')} aggregates, ${IN_FLIGHT} in flight`,
      value: rate(COMMANDS, over.ms),
      unit: 'commands/s',
      baseline,
      note: perTx(over, overs),
    },
    {
      section: '3 throughput',
      figure: `${COMMANDS.toLocaleString('en-US')} commands on one hot aggregate, ${IN_FLIGHT} in flight`,
      value: rate(COMMANDS, one.ms),
      unit: 'commands/s',
      baseline,
      note: perTx(one, ones),
    },
    {
      section: '3 throughput',
      figure: `creating ${COUNTERS.toLocaleString('en-US')} counters, 200 in flight, the engine just started`,
      value: rate(COUNTERS, created.ms),
      unit: 'commands/s',
      baseline,
      note: 'the first commands of a fresh engine (its code not yet optimised); warm, at scale: §7',
    },
    {
      section: '3 throughput',
      figure: `reference: raw strict writes of what the engine writes per command (the event with its command, ${perEngineTx} per tx as one batch record; heads and rows behind, relaxed, every ${MAX_EVENTS.toLocaleString('en-US')} events as the engine, ${COUNTERS.toLocaleString('en-US')} streams)`,
      value: rate(COMMANDS, shapedMs),
      unit: 'commands/s',
      baseline,
      note: `median of ${ROUNDS}, alternated with the engine's rounds: the engine-shaped stores and indexes, the same commands per transaction as the engine above`,
    },
    {
      section: '3 throughput',
      figure: `reference: the same, with each command's outbox entry behind too (what the engine writes while a space is stored and its pushes are not confirmed first)`,
      value: rate(COMMANDS, syncingMs),
      unit: 'commands/s',
      baseline,
      note: 'a device that syncs, offline; online, an accepted push is confirmed before its entries are written',
    },
    {
      section: '3 throughput',
      figure: `reference: raw strict writes of the events alone, each a record of its own with its stream index (${perEngineTx} per tx: how the engine stored them before batches)`,
      value: rate(COMMANDS, eventsMs),
      unit: 'commands/s',
      baseline,
      note: 'what the commands above cost written as records of one event, heads, rows and the outbox left out',
    },
    {
      section: '3 throughput',
      figure: 'reference: raw relaxed IDB puts, 1,000 per tx',
      value: rate(COMMANDS, relaxedMs),
      unit: 'events/s',
      baseline,
    },
    {
      section: '3 throughput',
      figure: 'reference: raw strict IDB puts, 1 per tx (2,000 events)',
      value: rate(2_000, singleMs),
      unit: 'events/s',
      baseline,
    },
  ];
}
