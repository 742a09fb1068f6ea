/* global self, indexedDB, IDBKeyRange, performance, crypto */
// A bare SharedWorker doing raw IndexedDB work: the baseline beside the engine's figures. Events
// have the engine's stored shape; the store has no indexes, the transaction touches one store.

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

const request = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

const done = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('aborted'));
  });

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

async function putOne() {
  const tx = (await open()).transaction('events', 'readwrite');
  tx.objectStore('events').put(event(++position));
  await done(tx);
}

const ops = {
  echo: () => true,
  putOne,
  /** `n` sequential transactions of one put each; answers each one's duration in ms. */
  async latency(n) {
    await open();
    const times = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await putOne();
      times.push(performance.now() - t0);
    }
    return times;
  },
  /** `n` events, `perTx` per transaction, transactions one after another; answers ms. */
  async bulk(n, perTx) {
    const handle = await open();
    const t0 = performance.now();
    for (let written = 0; written < n; written += perTx) {
      const tx = handle.transaction('events', 'readwrite');
      const store = tx.objectStore('events');
      for (let i = 0; i < Math.min(perTx, n - written); i++) store.put(event(++position));
      await done(tx);
    }
    return performance.now() - t0;
  },
  /** Raw getAll on the app's own database: one stream's events, or every event. */
  async readTally(stream) {
    const t0 = performance.now();
    const tally = await request(indexedDB.open('tally'));
    try {
      const tx = tally.transaction('events', 'readonly');
      const store = tx.objectStore('events');
      const rows = await request(
        stream
          ? store
              .index('byStream')
              .getAll(IDBKeyRange.bound([stream, 1], [stream, Number.MAX_SAFE_INTEGER]))
          : store.getAll(),
      );
      return { ms: performance.now() - t0, count: rows.length };
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
