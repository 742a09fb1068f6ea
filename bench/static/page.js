/* global document, SharedWorker, performance, crypto, queueMicrotask */
// The bench page (bench only, never part of the app). Two clients:
// - `engine`: the app's own SharedWorker engine, spoken to over Comlink's wire format directly,
//   so bulk work can run with no UI subscribed (the app page renders every counter it is told of).
// - `idb`: a bare SharedWorker doing raw IndexedDB work, the baseline for the engine's figures.

function portClient(port) {
  const waiting = new Map();
  let seq = 0;
  port.addEventListener('message', (event) => {
    const { id, type, name, value } = event.data ?? {};
    const pending = waiting.get(id);
    if (!pending) return;
    waiting.delete(id);
    // Comlink sends a thrown error as a `throw` handler value.
    if (type === 'HANDLER' && name === 'throw') pending.reject(value?.value ?? value);
    else pending.resolve(value);
  });
  port.start();
  // Commands issued in one task go together, as app/engine-client.ts sends them: one alone as
  // `execute`, several as one `executeMany` of at most 250, each answered on its own promise.
  let queued = [];
  const send = (client) => {
    const all = queued;
    queued = [];
    for (let i = 0; i < all.length; i += 250) {
      const part = all.slice(i, i + 250);
      if (part.length === 1) {
        client.call('execute', part[0].request).then(part[0].resolve, part[0].reject);
        continue;
      }
      client
        .call(
          'executeMany',
          part.map(({ request }) => request),
        )
        .then(
          (outcomes) =>
            part.forEach(({ resolve, reject }, k) =>
              outcomes[k]?.type === 'failed' ? reject(outcomes[k]) : resolve(outcomes[k]),
            ),
          (error) => part.forEach(({ reject }) => reject(error)),
        );
    }
  };
  return {
    /** A command, sent with the others issued in this task. */
    execute(request) {
      return new Promise((resolve, reject) => {
        if (queued.length === 0) queueMicrotask(() => send(this));
        queued.push({ request, resolve, reject });
      });
    },
    call(method, ...args) {
      return new Promise((resolve, reject) => {
        const id = `bench-${++seq}`;
        waiting.set(id, { resolve, reject });
        port.postMessage({
          id,
          type: 'APPLY',
          path: [method],
          argumentList: args.map((value) => ({ type: 'RAW', value })),
        });
      });
    },
  };
}

const engineUrl = document.querySelector('meta[name="tally-engine"]').content;
let engine;
let idb;

globalThis.bench = {
  engine() {
    engine ??= portClient(
      new SharedWorker(engineUrl, { type: 'module', name: 'tally-engine' }).port,
    );
    return engine;
  },
  idb() {
    idb ??= portClient(new SharedWorker('/bench/idb-worker.js', { name: 'tally-bench-idb' }).port);
    return idb;
  },
  /**
   * Runs `jobs`, at most `window` in flight; answers elapsed ms. `settle`: timed until what the
   * commands left behind their appends is stored too (the engine's `keepForNextStart`: the heads
   * and rows written behind, and the list's first screen if it is due).
   */
  async drive(jobs, window, settle = false) {
    const api = globalThis.bench.engine();
    const started = performance.now();
    let next = 0;
    let failed = 0;
    const lane = async () => {
      while (next < jobs.length) {
        const [stream, commands] = jobs[next++];
        const result = await api.execute({
          stream,
          commands,
          commandId: crypto.randomUUID(),
        });
        if (result?.type !== 'accepted') failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, jobs.length) }, lane));
    if (settle) await api.call('keepForNextStart');
    return { ms: performance.now() - started, failed };
  },
};
