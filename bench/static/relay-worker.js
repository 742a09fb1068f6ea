/* global self, indexedDB, fetch, TextDecoder, importScripts, request, committed */
// A bare device for the device → device baseline (bench/device-sync.ts): a SharedWorker that
// does what a device must do to pass one event on, and nothing else. Sending: one strict put,
// then the push over HTTP. Receiving: the live feed over fetch, one strict put of what came,
// then a message to the page. No engine, no model, no read model: the floor beside Tally's figure.
// A device follows the feed whether or not it pushes: the sender reads its own echo too, and
// stores nothing of it (what it pushed is stored already).

importScripts('idb-requests.js');

let opened;
const open = () => {
  if (opened) return opened;
  const opening = indexedDB.open('tally-bench-relay', 1);
  opening.onupgradeneeded = () => opening.result.createObjectStore('events', { keyPath: 'id' });
  return (opened = request(opening));
};

/** One strict transaction putting `events`. */
async function store(events) {
  const db = await open();
  const tx = db.transaction('events', 'readwrite', { durability: 'strict' });
  for (const event of events) tx.objectStore('events').put(event);
  await committed(tx);
}

const ports = new Set();
const tell = (message) => {
  for (const port of ports) port.postMessage(message);
};

/** Follows the live feed, each message's events stored, then told to every page. */
async function follow({ origin, space, token, after, store: storing }) {
  const response = await fetch(`${origin}/api/spaces/${space}/live?after=${after}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok || !response.body) throw new Error(`live: ${response.status}`);
  tell({ type: 'following' });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done: ended } = await reader.read();
    if (ended) return;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (!data) continue;
      const entries = JSON.parse(data);
      if (storing) await store(entries.map((entry) => entry.event));
      tell({ type: 'seen', versions: entries.map((entry) => entry.event.version) });
    }
  }
}

self.onconnect = (connection) => {
  const port = connection.ports[0];
  ports.add(port);
  port.onmessage = async ({ data }) => {
    try {
      if (data.type === 'follow') {
        follow(data).catch((error) => tell({ type: 'error', message: String(error) }));
        return;
      }
      if (data.type === 'push') {
        const { origin, space, token, body } = data;
        await store(body.streams.flatMap((stream) => stream.events));
        const response = await fetch(`${origin}/api/spaces/${space}/push`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
        port.postMessage({
          type: 'pushed',
          status: response.status,
          answer: await response.text(),
        });
      }
    } catch (error) {
      port.postMessage({ type: 'error', message: String(error) });
    }
  };
};
