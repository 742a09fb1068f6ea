/**
 * The names of the tab ⇄ engine protocol's request–answer methods, without their schemas: what a
 * tab needs at run time to build its client, so the page itself loads no schema library. The
 * table in `engine-protocol.ts` is checked against this list (`satisfies`), so they cannot drift.
 */
export const methodNames = [
  'info',
  'execute',
  'executeMany',
  'startSync',
  'pairDevice',
  'cancelPairing',
  'devices',
  'renameDevice',
  'removeDevice',
  'joinSpace',
  'leaveSpace',
  'dismissRejection',
  'setOnline',
  'retrySync',
  'keepForNextStart',
  'deleteForever',
  'exportBackup',
  'exportHistory',
  'previewImport',
  'importBackup',
] as const;
export type Method = (typeof methodNames)[number];

/** The most commands one `executeMany` call carries (a tab sends more as several calls). */
export const maxCommandsPerCall = 1_000;

/**
 * The most commands the engine's store commits in one transaction (its group commit's default
 * `maxBatch`), and so the most a tab sends in one call (app/engine-client.ts).
 */
export const commandsPerTransaction = 250;
