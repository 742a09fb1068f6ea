// The one test command (`npm test`): system parts first, then typecheck, lint, build, and every
// vitest project. Fails loudly, naming the Debian package, when a system part is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = [];
if (!existsSync(chromium)) missing.push(`Chromium is missing at ${chromium}: install the Debian package “chromium” (apt-get install chromium), or set CHROMIUM_PATH.`);
if (spawnSync('redis-server', ['--version']).status !== 0) missing.push('redis-server is missing: install the Debian package “redis-server” (apt-get install redis-server).');
if (missing.length > 0) {
  for (const line of missing) console.error(`✗ ${line}`);
  process.exit(1);
}

const run = (label, command, args) => {
  console.log(`\n▶ ${label}`);
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`✗ ${label} failed`);
    process.exit(result.status ?? 1);
  }
};

const npx = (...args) => ['npx', ['--no-install', ...args]];
run('typecheck', ...npx('tsc', '-p', 'tsconfig.json', '--noEmit'));
run('lint', ...npx('eslint', '.'));
run('format', ...npx('prettier', '--check', '.'));
run('build', ...npx('vite', 'build'));
run('tests', ...npx('vitest', 'run', ...process.argv.slice(2)));
