/**
 * The cache that keeps the leader-tab fallback (app/leader-client.ts) for offline starts. Only
 * browsers without SharedWorker load that script, so it is not in the service worker's precache,
 * which every first visit downloads; where it is loaded, it keeps itself here, and the service
 * worker serves it from here (vite.config.ts, `runtimeCaching`).
 */
export const leaderCacheName = 'tally-leader';
