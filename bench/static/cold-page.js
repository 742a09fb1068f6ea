/* global SharedWorker, performance, crypto, location, URLSearchParams */
// The cold-start baseline (§5): what any app showing Tally's list must do at the least. A page
// starts a fresh SharedWorker (a name of its own, so never a warm one), which opens Tally's
// database, reads every row of the counter list with one getAll, and posts them to the page.
// `globalThis.bareStart` is then the time since this navigation began, as the app's figure is.
// With `?warm`, the baseline of a second tab: every such page shares one worker, which keeps the
// rows it read first in memory (as the engine keeps its views) and posts them to each new page.
const warm = new URLSearchParams(location.search).has('warm');
const worker = new SharedWorker('/bench/cold-worker.js', {
  name: warm ? 'bare-warm' : `bare-${crypto.randomUUID()}`,
});
worker.port.onmessage = ({ data }) => {
  globalThis.bareStart = { ms: performance.now(), rows: data.rows.length, error: data.error };
};
worker.port.start();
worker.port.postMessage(warm ? 'kept' : 'read');
