import { models } from '../../core/model-list.ts';
import type { PushResult } from '../../core/protocol.ts';
import { foldStream } from '../../core/stream-snapshot.ts';
import type { AccessStore } from '../../server/access-store.ts';
import type { SyncStorage } from '../../server/options.ts';
import type { SyncStore } from '../../server/redis-store.ts';
import { compareCursors } from '../../server/cursor.ts';
import type { Envelope } from '../../server/stored-event.ts';

/**
 * The store interfaces in memory, for tests of routing and validation with `app.request`: no
 * limits, no quota, no retry rule. Everything about storage is tested against redis-server.
 */
export function memoryStorage(): SyncStorage & { readonly appended: () => number } {
  const streams = new Map<string, Envelope[]>();
  const feeds = new Map<string, { cursor: string; event: Envelope }[]>();
  const revoked = new Set<string>();
  let appended = 0;

  const store: SyncStore = {
    async append(space, pushed) {
      return pushed.map(({ stream, expectedVersion, events }): PushResult => {
        const key = `${space}/${stream}`;
        const held = streams.get(key) ?? [];
        if (held.length !== expectedVersion)
          return {
            stream,
            status: 'conflict',
            version: held.length,
            events: held.slice(expectedVersion),
          };
        const feed = feeds.get(space) ?? [];
        for (const event of events) {
          held.push(event);
          feed.push({ cursor: `${feed.length + 1}-0`, event });
          appended++;
        }
        streams.set(key, held);
        feeds.set(space, feed);
        return { stream, status: 'accepted', version: held.length };
      });
    },
    async readFeed(space, after, limit) {
      const feed = feeds.get(space) ?? [];
      const from = after === '0' ? 0 : Number(after.split('-')[0]);
      const rest = feed.slice(Math.min(from, feed.length));
      return { entries: rest.slice(0, limit), more: rest.length > limit };
    },
    async readStreamPage(space, stream, after, limit) {
      const held = streams.get(`${space}/${stream}`) ?? [];
      return { type: 'stream', events: held.slice(after, after + limit), version: held.length };
    },
    async deleteStream(space, stream, expected) {
      const held = streams.get(`${space}/${stream}`) ?? [];
      if (held.length !== expected.length || held.at(-1)?.id !== expected.lastId) return 'changed';
      streams.delete(`${space}/${stream}`);
      return 'deleted';
    },
    async feedHead(space) {
      const newest = feeds.get(space)?.at(-1);
      return newest ? { cursor: newest.cursor, stream: newest.event.stream } : { cursor: '0-0' };
    },
    async wentBack(space, cursor) {
      const held = (feeds.get(space) ?? []).filter(
        (entry) => compareCursors(entry.cursor, cursor) <= 0,
      );
      const newest = held.at(-1)?.cursor ?? '0';
      return newest !== '0' && compareCursors(newest, cursor) === 0 ? undefined : newest;
    },
    async snapshots(space) {
      const held = [...streams].filter(([key]) => key.startsWith(`${space}/`));
      return {
        cursor: feeds.get(space)?.at(-1)?.cursor ?? '0',
        histories: [],
        streams: held.map(([key, events]) =>
          foldStream(models, key.slice(space.length + 1), undefined, events),
        ),
      };
    },
    ping: async () => true,
  };

  const access: AccessStore = {
    admit: async ({ space, device }) =>
      revoked.has(`${space}/${device}`) ? 'revoked' : 'admitted',
    revoke: async ({ space, device }) => void revoked.add(`${space}/${device}`),
    count: async () => {},
    acquireLease: async () => {},
    renewLease: async () => 'renewed',
    releaseLease: async () => {},
    addDevice: async () => {},
    seen: async () => {},
    addInvite: async () => {},
    admitInvite: async () => 'admitted',
    consumeInvite: async () => true,
    cancelInvite: async () => true,
    devices: async () => [],
    renameDevice: async () => true,
    removeDevice: async () => true,
  };

  return { store, access, appended: () => appended };
}
