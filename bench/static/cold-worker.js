/* global self, indexedDB */
// See cold-page.js: open the database, read the list's rows, send them. Nothing else.
const request = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

self.onconnect = ({ ports: [port] }) => {
  port.onmessage = async () => {
    try {
      const db = await request(indexedDB.open('tally'));
      const tx = db.transaction('views', 'readonly');
      const rows = await request(tx.objectStore('views').index('byView').getAll('counters'));
      db.close();
      port.postMessage({ rows });
    } catch (error) {
      port.postMessage({ rows: [], error: String(error) });
    }
  };
};
