import { joinedEntryType } from '../../joined-entry.ts';
/**
 * A counter's history as a person reads it (issue 15, item 4): one line per action (a batch, such
 * as the seed's "increment twice", is one command and one line), newest first, grouped by day,
 * and the totals counted per day for the chart. Pure: the engine sends the fold of the model per
 * event (`Engine.historyOf`), this shapes it.
 */

/** What the engine sends per event: the counter's name and value right after it. */
export type HistoryEvent = {
  readonly version: number;
  readonly type: string;
  readonly name: string;
  readonly value: number;
  readonly time: number;
  readonly device: string;
  /** The command that decided it: events of one command are one action. */
  readonly command: string;
};

export type HistoryLine = {
  /** The first version of the line: stable, unique within the stream. */
  readonly key: number;
  readonly text: string;
  /** How the value moved over the action (after − before). */
  readonly change: number;
  readonly value: number;
  readonly time: number;
  readonly device: string;
};

export type HistoryDay = {
  /** `YYYY-MM-DD` in the person's time zone. */
  readonly day: string;
  readonly lines: readonly HistoryLine[];
};

/** Events that count (the rest set, reset, rename): what the per-day chart adds up. */
const counting = new Set(['Incremented', 'Decremented']);

const signed = (n: number) => (n >= 0 ? `+${n}` : `−${-n}`);

/** `YYYY-MM-DD` of a time in the local time zone. */
export function dayOf(time: number): string {
  const date = new Date(time);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function describe(events: readonly HistoryEvent[], before: HistoryEvent | undefined): string {
  const last = events.at(-1)!;
  const change = last.value - (before?.value ?? 0);
  const types = new Set(events.map((event) => event.type));
  if (types.has('Created')) return `Created as “${events[0]!.name}”`;
  if (types.has(joinedEntryType)) return 'Earlier changes are on the sync server';
  if ([...types].every((type) => counting.has(type))) return signed(change);
  if (types.size === 1) {
    switch (last.type) {
      case 'Reset':
        return `Reset to 0 (was ${before?.value ?? 0})`;
      case 'ValueSet':
        return `Set to ${last.value} (was ${before?.value ?? 0})`;
      case 'Renamed':
        return `Renamed to “${last.name}”`;
      case 'StepSet':
        return 'Step changed';
      case 'Archived':
        return 'Archived';
      case 'Restored':
        return 'Restored';
    }
  }
  return change === 0 ? [...types].join(', ') : `${[...types].join(', ')}: ${signed(change)}`;
}

/** One line per command, newest first. `events` are in version order, as the engine sends them. */
export function historyLines(events: readonly HistoryEvent[]): HistoryLine[] {
  const lines: HistoryLine[] = [];
  let start = 0;
  for (let i = 1; i <= events.length; i++) {
    if (i < events.length && events[i]!.command === events[start]!.command) continue;
    const group = events.slice(start, i);
    const before = events[start - 1];
    const last = group.at(-1)!;
    lines.push({
      key: group[0]!.version,
      text: describe(group, before),
      change: last.value - (before?.value ?? 0),
      value: last.value,
      time: last.time,
      device: last.device,
    });
    start = i;
  }
  return lines.reverse();
}

/** Lines (newest first) grouped by day, newest day first. */
export function byDay(lines: readonly HistoryLine[]): HistoryDay[] {
  const days: { day: string; lines: HistoryLine[] }[] = [];
  for (const line of lines) {
    const day = dayOf(line.time);
    if (days.at(-1)?.day !== day) days.push({ day, lines: [] });
    days.at(-1)!.lines.push(line);
  }
  return days;
}

/**
 * Where a counter joined from the server's snapshot starts here, when its history starts there
 * (the Joined line, dated by the first change held after it, or by now): what was counted
 * before is on the sync server, not here.
 */
export function joinedDay(events: readonly HistoryEvent[]): string | undefined {
  const first = events[0];
  return first?.type === joinedEntryType ? dayOf(first.time) : undefined;
}

/**
 * What was counted on each of the last `days` days up to `now` (oldest first, today last): the
 * sum of what increments added less what decrements took, so a reset or a set value does not
 * erase a day's work from the chart. Days before a joined counter's start here (`joinedDay`)
 * are not `known`: nothing of them is here.
 */
export function perDay(
  events: readonly HistoryEvent[],
  now: number,
  days = 30,
): { readonly day: string; readonly total: number; readonly known: boolean }[] {
  const totals = new Map<string, number>();
  const today = new Date(now);
  const keys: string[] = [];
  for (let back = days - 1; back >= 0; back--) {
    const day = new Date(today.getFullYear(), today.getMonth(), today.getDate() - back, 12);
    keys.push(dayOf(day.getTime()));
  }
  for (const key of keys) totals.set(key, 0);
  events.forEach((event, i) => {
    if (!counting.has(event.type)) return;
    const day = dayOf(event.time);
    const total = totals.get(day);
    if (total === undefined) return;
    totals.set(day, total + event.value - (events[i - 1]?.value ?? 0));
  });
  const since = joinedDay(events);
  return keys.map((day) => ({ day, total: totals.get(day)!, known: !since || day >= since }));
}
