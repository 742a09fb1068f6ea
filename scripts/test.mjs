// The one test command (`npm test`): system parts first, then typecheck, lint, build, and every
// vitest project. Fails loudly, naming the Debian package, when a system part is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = [];
if (!existsSync(chromium))
  missing.push(
    `Chromium is missing at ${chromium}: install the Debian package “chromium” (apt-get install chromium), or set CHROMIUM_PATH.`,
  );
if (spawnSync('redis-server', ['--version']).status !== 0)
  missing.push(
    'redis-server is missing: install the Debian package “redis-server” (apt-get install redis-server).',
  );
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
// Vitest's own summary, plus one plain closing line that any CI reads.
const reportDir = mkdtempSync(join(tmpdir(), 'tally-test-'));
const report = join(reportDir, 'vitest.json');
console.log('\n▶ tests');
const tests = spawnSync(
  'npx',
  [
    '--no-install',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
let summary;
try {
  summary = JSON.parse(readFileSync(report, 'utf8'));
} catch {
  summary = undefined;
}
rmSync(reportDir, { recursive: true, force: true });
if (summary) {
  const skipped = summary.numPendingTests + summary.numTodoTests;
  console.log(
    `\ntests: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed, ${skipped} skipped`,
  );
}
if (tests.status !== 0 || !summary || summary.numTotalTests === 0) {
  console.error('✗ tests failed');
  process.exit(tests.status || 1);
}
