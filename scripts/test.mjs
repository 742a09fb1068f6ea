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
// The projects run one group after another, not side by side: the Redis Cluster (six
// redis-servers and two instances) and Chromium would otherwise share two cores with each
// other and time out. Arguments given to `npm test` go to every group.
const groups = [['unit', 'int'], ['cluster'], ['e2e']];
const totals = { passed: 0, failed: 0, skipped: 0, total: 0 };
const failures = [];
let failed = false;
for (const [index, projects] of groups.entries()) {
  const report = join(reportDir, `vitest-${index}.json`);
  console.log(`\n▶ tests: ${projects.join(' + ')}`);
  const tests = spawnSync(
    'npx',
    [
      '--no-install',
      'vitest',
      'run',
      ...projects.flatMap((project) => ['--project', project]),
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${report}`,
      '--passWithNoTests',
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
  if (tests.status !== 0 || !summary) failed = true;
  if (summary) {
    totals.passed += summary.numPassedTests;
    totals.failed += summary.numFailedTests;
    totals.skipped += summary.numPendingTests + summary.numTodoTests;
    totals.total += summary.numTotalTests;
    for (const file of summary.testResults ?? [])
      for (const test of file.assertionResults ?? [])
        if (test.status === 'failed')
          failures.push({
            name: `${file.name.replace(`${process.cwd()}/`, '')} › ${test.fullName}`,
            message: String(test.failureMessages?.[0] ?? '')
              .split('\n')
              .slice(0, 6)
              .join('\n'),
          });
    if (summary.numFailedTestSuites > 0)
      for (const file of summary.testResults ?? [])
        if (file.status === 'failed' && (file.assertionResults ?? []).length === 0)
          failures.push({
            name: file.name.replace(`${process.cwd()}/`, ''),
            message: String(file.message ?? '')
              .split('\n')
              .slice(0, 6)
              .join('\n'),
          });
  }
}
rmSync(reportDir, { recursive: true, force: true });
// A CI log is often read from its tail: name what failed, and how, just above the last line.
for (const { name, message } of failures) console.error(`\n✗ ${name}\n${message}`);
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
if (failed || totals.total === 0) {
  console.error('✗ tests failed');
  process.exit(1);
}
