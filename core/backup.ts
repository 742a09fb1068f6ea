import { z } from './zod.ts';
import type { EventEnvelope, StreamId } from './envelope.ts';
import { TallyError } from './errors.ts';
import { maxBackupBytes } from './backup-limits.ts';
import { limits } from './protocol.ts';
import type { ModelSet } from './model.ts';

/**
 * A backup file (README, "Backup"): every event of a profile, as JSON, versioned. Reading one is
 * an edge like the network: every event goes through its model's codec and rules for sequences,
 * and a file that fails anything is refused whole, with the reason.
 */
export const backupFormat = 'tally-backup';
export const backupVersion = 1;
export { maxBackupBytes } from './backup-limits.ts';

export type Backup = {
  readonly format: typeof backupFormat;
  readonly version: typeof backupVersion;
  /** When it was made, ISO 8601 (for people; never used for ordering). */
  readonly exportedAt: string;
  /** The device (browser profile) it was made on. */
  readonly device: string;
  /** Every event, in the order this profile stored them: each stream's in version order. */
  readonly events: readonly EventEnvelope[];
};

const headSchema = z.object({
  format: z.literal(backupFormat),
  version: z.number().check(z.int(), z.positive()),
});

const fileSchema = z.strictObject({
  format: z.literal(backupFormat),
  version: z.literal(backupVersion),
  exportedAt: z.string().check(z.maxLength(64)),
  device: z.string().check(z.maxLength(64)),
  events: z.array(z.unknown()).check(z.maxLength(1_000_000)),
});

const envelope = (event: EventEnvelope): EventEnvelope => {
  const { id, stream, version, type, data, meta } = event;
  return { id, stream, version, type, data, meta };
};

/** The backup of `events` (a whole profile's, in store order) as the JSON text of its file. */
export function writeBackup(events: readonly EventEnvelope[], device: string, now: number): string {
  const backup: Backup = {
    format: backupFormat,
    version: backupVersion,
    exportedAt: new Date(now).toISOString(),
    device,
    events: events.map(envelope),
  };
  return JSON.stringify(backup);
}

const refuse = (why: string) => new TallyError('invalid', `This backup cannot be imported: ${why}`);

/**
 * The events of a backup file by stream, each stream's in version order, every one decoded by
 * its model's codec and its sequence checked by the model's rules; throws `invalid` saying why.
 */
export function readBackup(text: string, models: ModelSet): Map<StreamId, EventEnvelope[]> {
  if (text.length > maxBackupBytes) throw refuse('the file is larger than 50 MB.');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw refuse('it is not a Tally backup (the file is not JSON).');
  }
  const head = headSchema.safeParse(raw);
  if (!head.success) throw refuse('it is not a Tally backup (it has no "format": "tally-backup").');
  if (head.data.version > backupVersion)
    throw refuse(
      `it was made by a newer Tally (backup version ${head.data.version}; this one reads version ${backupVersion}).`,
    );
  const file = fileSchema.safeParse(raw);
  if (!file.success)
    throw refuse(`the file is damaged (${z.prettifyError(file.error).split('\n')[0]}).`);

  const streams = new Map<StreamId, EventEnvelope[]>();
  const ids = new Set<string>();
  file.data.events.forEach((rawEvent, index) => {
    let event: EventEnvelope;
    try {
      event = models.decode(rawEvent);
    } catch (error) {
      throw refuse(`event ${index + 1} is damaged: ${(error as Error).message}`);
    }
    if (ids.has(event.id)) throw refuse(`event ${event.id} appears twice.`);
    ids.add(event.id);
    let list = streams.get(event.stream);
    if (!list) streams.set(event.stream, (list = []));
    list.push(event);
  });
  for (const [stream, events] of streams) {
    events.sort((a, b) => a.version - b.version);
    events.forEach((event, index) => {
      if (event.version !== index + 1)
        throw refuse(
          `the history of ${stream} is not whole (version ${index + 1} is ${event.version < index + 1 ? 'there twice' : 'missing'}).`,
        );
    });
    const broken = models.modelOf(stream).checkSequence?.(0, events);
    if (broken) throw refuse(`the history of ${stream} is not possible: ${broken}`);
    // A command's events go to the server in one push: one past a push's limit never would.
    let run = 0;
    events.forEach((event, index) => {
      run = index > 0 && events[index - 1]!.meta.command === event.meta.command ? run + 1 : 1;
      if (run > limits.maxEventsPerPush)
        throw refuse(
          `one change in the history of ${stream} has more than ${limits.maxEventsPerPush} events, more than sync can send.`,
        );
    });
  }
  return streams;
}

/** A spreadsheet cell: quoted when it must be, and never read as a formula (`=`, `+`, `-`, `@`). */
const cell = (value: string | number): string => {
  const text = typeof value === 'number' ? String(value) : value.replace(/^([=+\-@\t\r])/, "'$1");
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/**
 * The history as CSV (RFC 4180, for spreadsheets): one line per event of every stream whose model
 * has history lines, oldest first, with the name and the value right after it.
 */
export function historyCsv(events: readonly EventEnvelope[], models: ModelSet): string {
  const rows: { time: number; cells: (string | number)[] }[] = [];
  const byStream = new Map<StreamId, EventEnvelope[]>();
  for (const event of events) {
    let list = byStream.get(event.stream);
    if (!list) byStream.set(event.stream, (list = []));
    list.push(event);
  }
  for (const [stream, list] of byStream) {
    const model = models.modelOf(stream);
    if (!model.historyLine) continue;
    // Folded in version order; lines are then put in time order across counters.
    let state: unknown = model.decider.initialState();
    for (const event of [...list].sort((a, b) => a.version - b.version)) {
      state = model.decider.evolve(state, event);
      const { name, value } = model.historyLine(state);
      const detail = Object.entries(event.data as Record<string, unknown>)
        .map(([key, data]) => `${key} ${String(data)}`)
        .join('; ');
      rows.push({
        time: event.meta.time,
        cells: [
          new Date(event.meta.time).toISOString(),
          name,
          event.type,
          detail,
          value,
          stream,
          event.meta.device,
        ],
      });
    }
  }
  rows.sort((a, b) => a.time - b.time);
  const header = ['time', 'counter', 'event', 'detail', 'value', 'counter id', 'device'];
  return `${[header.join(','), ...rows.map((row) => row.cells.map(cell).join(','))].join('\r\n')}\r\n`;
}
