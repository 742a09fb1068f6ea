/* global self, indexedDB, IDBKeyRange, performance, crypto, importScripts, request, committed */
// A bare SharedWorker doing raw IndexedDB work: the baseline beside the engine's figures. Events
// have the engine's stored shape; the store has no indexes, the transaction touches one store.
// Every write takes a durability: 'strict' is what the engine commits with (an ack means the data
// is flushed), 'relaxed' is Chromium's default, shown beside it.

const event = (position) => ({
  position,
  id: crypto.randomUUID(),
  stream: 'counter-baseline',
  version: position,
  type: 'Incremented',
  data: {},
  meta: {
    time: Date.now(),
    device: 'device-bench-baseline',
    command: crypto.randomUUID(),
    schema: 1,
  },
});

importScripts('idb-requests.js');

let db;
let position = 0;

async function open() {
  if (db) return db;
  const opening = indexedDB.open('tally-bench-baseline', 1);
  opening.onupgradeneeded = () =>
    opening.result.createObjectStore('events', { keyPath: 'position' });
  db = await request(opening);
  return db;
}

async function putOne(durability = 'strict') {
  const tx = (await open()).transaction('events', 'readwrite', { durability });
  tx.objectStore('events').put(event(++position));
  await committed(tx);
}

// The same writes as one engine command, in a database shaped like the engine's (same stores
// and indexes): what a command costs in IndexedDB alone, without the engine around it.
let shaped;
let shapedVersion = 0;
async function openShaped() {
  if (shaped) return shaped;
  const opening = indexedDB.open('tally-bench-shaped', 1);
  opening.onupgradeneeded = () => {
    const db = opening.result;
    const events = db.createObjectStore('events', { keyPath: 'position' });
    events.createIndex('byStream', ['stream', 'version'], { unique: true });
    // A batch's events, one entry each (worker/event-records.ts).
    events.createIndex('byVersions', 'versions', { unique: true, multiEntry: true });
    db.createObjectStore('streams', { keyPath: 'stream' });
    db.createObjectStore('views', { keyPath: ['view', 'key'] });
    db.createObjectStore('meta', { keyPath: 'key' });
    const outbox = db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
    outbox.createIndex('byStream', 'stream');
  };
  shaped = await request(opening);
  return shaped;
}

async function commandWrites(durability = 'strict') {
  const db = await openShaped();
  // The outbox entry, head, row and the position in `meta` are written behind the command's
  // transaction (worker/written-behind.ts): not here. Alone, an append reads nothing.
  const tx = db.transaction(['events'], 'readwrite', { durability });
  const version = ++shapedVersion;
  const e = { ...event(version), stream: `counter-shaped-${performance.timeOrigin}` };
  // A batch of one, as the engine writes a click's event (worker/event-records.ts).
  tx.objectStore('events').add(batchOf([{ ...e, commands: [{ type: 'increment' }] }]));
  await committed(tx);
}

/** The engine's record of events written together (at most 250 each: `batchesOf`). */
const batchOf = (events) => ({
  position: events.at(-1).position,
  events,
  versions: events.map(({ stream, version }) => [stream, version]),
});
const batchesOf = (events) => {
  const records = [];
  for (let i = 0; i < events.length; i += 250) records.push(batchOf(events.slice(i, i + 250)));
  return records;
};

/**
 * `n` commands' writes, `perTx` to a strict transaction, over `streams` streams, in the
 * engine-shaped database: `shape` 'engine' writes what the engine writes for each (the event,
 * carrying its command, which holds its position: a transaction's events as one batch record,
 * indexed by each one's stream and version, worker/event-records.ts), and, as the engine writes
 * them behind its appends, each stream's head and row and the position once per 5,000 events in
 * a relaxed transaction; 'syncing' each command's outbox entry behind too (what the engine
 * writes while a space is stored and the server does not confirm the commands first); 'events'
 * only the events, each a record of its own with its index (how the engine stored them before
 * batches). Answers ms. Where the engine's throughput gap lies.
 */
/** Calls of `shapedBulk` so far: each writes streams of its own (their versions start at 1). */
let shapedCalls = 0;

async function shapedBulk(n, perTx, streams, shape, behindEvents) {
  const db = await openShaped();
  const call = ++shapedCalls;
  const versions = new Map();
  const t0 = performance.now();
  const heads = new Map();
  const rows = new Map();
  let outbox = [];
  let behindFrom = shapedVersion;
  const writeBehind = async () => {
    behindFrom = shapedVersion;
    const tx = db.transaction(['views', 'streams', 'outbox', 'meta'], 'readwrite', {
      durability: 'relaxed',
    });
    for (const row of rows.values()) tx.objectStore('views').put(row);
    for (const head of heads.values()) tx.objectStore('streams').put(head);
    for (const entry of outbox) tx.objectStore('outbox').add(entry);
    tx.objectStore('meta').put({ key: 'whole', position: shapedVersion });
    tx.objectStore('meta').put({ key: 'head', position: shapedVersion });
    rows.clear();
    heads.clear();
    outbox = [];
    await committed(tx);
  };
  for (let written = 0; written < n; written += perTx) {
    const tx = db.transaction(['events'], 'readwrite', { durability: 'strict' });
    const batch = [];
    for (let i = written; i < Math.min(written + perTx, n); i++) {
      const stream = `counter-${shape}-${performance.timeOrigin}-${call}-${i % streams}`;
      const version = (versions.get(stream) ?? 0) + 1;
      versions.set(stream, version);
      const e = { ...event(++shapedVersion), stream, version };
      if (shape === 'events') {
        tx.objectStore('events').add(e);
        continue;
      }
      const commands = [{ type: 'increment' }];
      batch.push({ ...e, commands });
      if (shape === 'syncing')
        outbox.push({
          commandId: e.meta.command,
          stream,
          commands,
          events: [{ id: e.id, version }],
        });
      heads.set(stream, { stream, version, confirmed: 0 });
      rows.set(stream, {
        view: 'counters',
        key: stream,
        value: { id: stream, name: 'Shaped', value: version, createdAt: 1, updatedAt: Date.now() },
      });
    }
    for (const record of batchesOf(batch)) tx.objectStore('events').add(record);
    await committed(tx);
    if (shape !== 'events' && shapedVersion - behindFrom >= behindEvents) await writeBehind();
  }
  if (shape !== 'events' && shapedVersion > behindFrom) await writeBehind();
  return performance.now() - t0;
}

const ops = {
  commandWrites,
  shapedBulk,
  echo: () => true,
  putOne,
  /** `n` sequential transactions of one put each; answers each one's duration in ms. */
  async latency(n, durability = 'strict') {
    await open();
    const times = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await putOne(durability);
      times.push(performance.now() - t0);
    }
    return times;
  },
  /** `n` events, `perTx` per transaction, transactions one after another; answers ms. */
  async bulk(n, perTx, durability = 'strict') {
    const handle = await open();
    const t0 = performance.now();
    for (let written = 0; written < n; written += perTx) {
      const tx = handle.transaction('events', 'readwrite', { durability });
      const store = tx.objectStore('events');
      for (let i = 0; i < Math.min(perTx, n - written); i++) store.put(event(++position));
      await committed(tx);
    }
    return performance.now() - t0;
  },
  /**
   * Raw reads of the app's own database: one stream's events (those stored alone by `byStream`,
   * and the batches `byVersions` names, each read once), or every record; answers the events.
   */
  async readTally(stream) {
    const t0 = performance.now();
    const tally = await request(indexedDB.open('tally'));
    try {
      const tx = tally.transaction('events', 'readonly');
      const store = tx.objectStore('events');
      if (!stream) {
        const records = await request(store.getAll());
        const count = records.reduce(
          (n, record) => n + (Array.isArray(record.events) ? record.events.length : 1),
          0,
        );
        return { ms: performance.now() - t0, count };
      }
      const range = IDBKeyRange.bound([stream, 1], [stream, Number.MAX_SAFE_INTEGER]);
      const [alone, keys] = await Promise.all([
        request(store.index('byStream').getAll(range)),
        request(store.index('byVersions').getAllKeys(range)),
      ]);
      const batches = await Promise.all([...new Set(keys)].map((key) => request(store.get(key))));
      const count =
        alone.length +
        batches.reduce((n, batch) => n + batch.events.filter((e) => e.stream === stream).length, 0);
      return { ms: performance.now() - t0, count };
    } finally {
      tally.close();
    }
  },
};

self.onconnect = (connect) => {
  const port = connect.ports[0];
  port.onmessage = async ({ data }) => {
    const { id, path, argumentList } = data;
    try {
      const value = await ops[path[0]](...argumentList.map((arg) => arg.value));
      port.postMessage({ id, type: 'RAW', value });
    } catch (error) {
      port.postMessage({ id, type: 'HANDLER', name: 'throw', value: { value: String(error) } });
    }
  };
};
