/* global self, indexedDB, IDBKeyRange */
// See cold-page.js: open the database, read the list's rows, send them. Nothing else.
const request = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

async function read() {
  const db = await request(indexedDB.open('tally'));
  const tx = db.transaction('views', 'readonly');
  // The rows of one view: the keys that begin with its name (worker/idb-schema.ts, viewRows).
  const rows = await request(
    tx.objectStore('views').getAll(IDBKeyRange.bound(['counters'], ['counters', []])),
  );
  db.close();
  return rows;
}

// 'kept': the rows read by the first page, kept for every later one (a warm worker).
let kept;

self.onconnect = ({ ports: [port] }) => {
  port.onmessage = async ({ data }) => {
    try {
      const rows = data === 'kept' ? await (kept ??= read()) : await read();
      port.postMessage({ rows });
    } catch (error) {
      port.postMessage({ rows: [], error: String(error) });
    }
  };
};
