import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Two production builds of the app with different build times, and a `current` link the server
 * serves from: relinking it is what deploying a new version looks like to the browser.
 */
export function buildVersions(builds: readonly string[]) {
  const root = mkdtempSync(join(tmpdir(), 'tally-builds-'));
  const dirs = builds.map((build, i) => {
    const outDir = join(root, `v${i + 1}`);
    execFileSync('npx', ['--no-install', 'vite', 'build', '--logLevel', 'error'], {
      // Vitest sets NODE_ENV=test, which would make a development build.
      env: {
        ...process.env,
        NODE_ENV: 'production',
        VITE_TALLY_BUILD: build,
        TALLY_OUT_DIR: outDir,
      },
      stdio: 'inherit',
    });
    return outDir;
  });
  const current = join(root, 'current');
  const deploy = (index: number) => {
    rmSync(current, { force: true });
    symlinkSync(dirs[index]!, current);
  };
  deploy(0);
  return { current, deploy, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
