/* global performance, fetch */
// The HTTP client of the sync-ingest figure (bench/sync-ingest.ts), on its own thread: what it
// times is the server's work on a thread of its own, not the client's JSON and sockets sharing it.
import { parentPort, workerData } from 'node:worker_threads';

const { origin, space, token, bodies, lanes } = workerData;
const t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: lanes }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const response = await fetch(`${origin}/api/spaces/${space}/push`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body,
      });
      const answer = await response.json();
      if (response.status !== 200 || answer.results?.some((r) => r.status !== 'accepted'))
        throw new Error(`push: ${response.status} ${JSON.stringify(answer).slice(0, 200)}`);
    }
  }),
);
parentPort.postMessage(performance.now() - t0);
