/* global self */
// IndexedDB as promises, for the bench's bare workers (idb-worker.js, relay-worker.js; loaded
// with importScripts). No library: the baselines are the platform alone.

/** A request's result. */
const request = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

/** Resolves when the transaction commits. */
const done = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('aborted'));
  });

/**
 * Every request made: commit now, as the engine does (worker/idb-schema.ts `commitNow`), rather
 * than once the worker has had every result. Same practice on both sides of a ratio.
 */
const committed = (tx) => {
  tx.commit();
  return done(tx);
};

// For the worker that imports this script.
Object.assign(self, { request, done, committed });
