import { historyCsv, readBackup, writeBackup } from '../core/backup.ts';
import type { ImportPreview, ImportResult } from '../core/engine-protocol.ts';
import { importCommits, planImport, type LocalStreams } from '../core/import-plan.ts';
import type { Engine } from './engine.ts';
import { allEventsByStream } from './event-records.ts';

/**
 * Backups (README, "Backup"): export every event of this profile as a versioned JSON file and
 * its history as CSV; import a backup into any profile, after saying what it will add. Every
 * event of a file is validated (core/backup.ts); what is imported is appended as pending
 * commands, in one transaction, while the actors of its streams decide nothing.
 */
async function allEvents(engine: Engine) {
  const events = [];
  for (let page = await engine.readAfter(0, 10_000); ;) {
    events.push(...page);
    const last = page.at(-1);
    if (page.length < 10_000 || !last) return events;
    page = await engine.readAfter(last.position, 10_000);
  }
}

export async function exportBackup(engine: Engine): Promise<string> {
  return writeBackup(await allEvents(engine), engine.device, Date.now());
}

export async function exportHistory(engine: Engine): Promise<string> {
  return historyCsv(await allEvents(engine), engine.models);
}

/** Each stream's event ids here, in version order, and where each id is. */
async function readLocal(engine: Engine) {
  const streams = new Map<string, string[]>();
  const ids = new Map<string, string>();
  const records = await allEventsByStream(engine.db.transaction('events').store);
  for (const { id, stream, version } of records) {
    let list = streams.get(stream);
    if (!list) streams.set(stream, (list = []));
    list.push(id);
    ids.set(id, `${stream}, change ${version}`);
  }
  return { streams: streams as LocalStreams, ids };
}

async function plan(engine: Engine, text: string) {
  const backup = readBackup(text, engine.models);
  const local = await readLocal(engine);
  return { local, plan: planImport(backup, local.streams, local.ids, engine.models) };
}

export async function previewImport(engine: Engine, text: string): Promise<ImportPreview> {
  const { plan: planned } = await plan(engine, text);
  return {
    streams: planned.streams.map(({ stream, name, add, fresh }) => ({
      stream,
      name,
      events: add.length,
      fresh,
    })),
    events: planned.streams.reduce((sum, { add }) => sum + add.length, 0),
    known: planned.known,
    skipped: planned.skipped.map(({ name, reason }) => ({ name, reason })),
  };
}

export async function importBackup(engine: Engine, text: string): Promise<ImportResult> {
  const first = await plan(engine, text);
  const streams = first.plan.streams.map(({ stream }) => stream);
  const imported = await engine.holding(streams, async () => {
    // Planned again while nothing of these streams is decided: what the person saw may be old.
    const { local, plan: import_ } = await plan(engine, text);
    const commits = importCommits(import_, local.streams, engine.models);
    if (commits.length === 0) return { events: 0, streams: 0 };
    const touched = new Set(commits.map((commit) => commit.stream));
    // One transaction, all or nothing, through the store (which keeps its cache true).
    const appended = await engine.store.appendAtomically(commits);
    return { events: appended.events.length, streams: touched.size };
  });
  // Two counters of one name now (one imported): renamed the same way sync would, `Milk (2)`.
  await engine.settle();
  return imported;
}
