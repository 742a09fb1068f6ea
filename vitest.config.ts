import { defineConfig } from 'vitest/config';

// The kind of a test is in its name: *.int.test.ts needs Redis, *.cluster.test.ts a Redis Cluster,
// *.e2e.test.ts Chromium.
/** Integration files that run a second time against a Redis Cluster (3 masters, 3 replicas). */
const onClusterToo = [
  'test/server/sync.int.test.ts',
  'test/server/instances.int.test.ts',
  'test/server/live.int.test.ts',
  'test/server/cursors.int.test.ts',
  'test/server/sequences.int.test.ts',
  'test/server/append.int.test.ts',
  'test/server/paged-conflict.int.test.ts',
  'test/server/auth.int.test.ts',
  'test/server/bad-input.int.test.ts',
  'test/server/delete.int.test.ts',
  'test/server/snapshots.int.test.ts',
  'test/server/live-carried.int.test.ts',
  'test/server/devices.int.test.ts',
  'test/server/invites.int.test.ts',
  'test/server/feed-behind.int.test.ts',
  'test/server/lifecycle.int.test.ts',
  'test/server/methods.int.test.ts',
  // Devices (engines over fake-indexeddb) syncing through the server on the cluster.
  'test/sync/pairing.int.test.ts',
  'test/sync/board.int.test.ts',
  'test/sync/legacy-names.int.test.ts',
  'test/sync/simulation.int.test.ts',
  'test/sync/join.int.test.ts',
  'test/sync/archive.int.test.ts',
  'test/sync/failover.int.test.ts',
  'test/sync/resume.int.test.ts',
  'test/sync/counts.int.test.ts',
];
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'test/**/*.cluster.test.ts', 'test/**/*.e2e.test.ts'],
          setupFiles: ['fake-indexeddb/auto'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          setupFiles: ['fake-indexeddb/auto'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: [...onClusterToo, 'test/**/*.cluster.test.ts'],
          setupFiles: ['fake-indexeddb/auto'],
          globalSetup: ['test/helpers/redis-cluster-setup.ts'],
          env: { TALLY_TEST_REDIS: 'cluster' },
          // One file at a time: they share the cluster, and some compare all of it before and
          // after a request.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          setupFiles: ['test/helpers/page-errors.ts'],
          // What a page shows is read with expect.poll: it waits for the page, never sleeps.
          expect: { poll: { timeout: 15_000, interval: 50 } },
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
