// `npm run bench`: a production build into a temp folder, then the benchmark against it
// (bench/run.ts). Never part of `npm test`. The temp folder goes away whatever happens.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = mkdtempSync(join(tmpdir(), 'tally-bench-'));
const build = join(root, 'dist');
const run = (label, command, args, env) => {
  console.error(`▶ ${label}`);
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    env: { ...process.env, ...env },
    // A bounded run: a stuck browser must not hold the machine.
    timeout: 15 * 60 * 1000,
    killSignal: 'SIGKILL',
  });
  if (result.status !== 0) throw new Error(`${label} failed (${result.signal ?? result.status})`);
};

let code = 0;
try {
  run('build (production)', 'npx', ['--no-install', 'vite', 'build', '--logLevel', 'error'], {
    NODE_ENV: 'production',
    TALLY_OUT_DIR: build,
  });
  run('bench', process.execPath, ['--import', 'tsx', 'bench/run.ts'], { TALLY_BENCH_BUILD: build });
} catch (error) {
  console.error(`✗ ${error.message}`);
  code = 1;
} finally {
  rmSync(root, { recursive: true, force: true });
}
process.exit(code);
