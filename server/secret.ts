import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { minSecretLength } from './auth.ts';

/**
 * The server secret for `npm start`: TALLY_SECRET when set, else one generated on first start and
 * kept in the data folder (readable by its owner only), so tokens stay valid across restarts.
 */
export function loadSecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['TALLY_SECRET'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const file = join(dataDir, 'secret');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= minSecretLength) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
