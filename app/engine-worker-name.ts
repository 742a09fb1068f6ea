/**
 * The name of the engine's SharedWorker. Tabs reach one worker by its URL and this name, so it is
 * written once: app/shared-worker-client.ts connects by it, and vite.config.ts hands it to
 * public/engine-boot.js, which starts the same worker before the app's modules run.
 */
export const engineWorkerName = 'tally-engine';
