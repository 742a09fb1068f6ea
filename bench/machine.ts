import { execFileSync } from 'node:child_process';
import { cpus, tmpdir, totalmem } from 'node:os';
import type { Browser } from 'playwright-core';
import type { Machine } from './report.ts';

export function describeMachine(browser: Browser): Machine {
  const cpu = cpus();
  return {
    CPU: cpu[0]?.model.trim() ?? 'unknown',
    cores: String(cpu.length),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    Chromium: browser.version(),
    // Every profile is a directory here: IndexedDB on this disk, as a person's is.
    profiles: `on disk (${fileSystemOf(tmpdir())})`,
    Node: process.version,
    date: new Date().toISOString(),
  };
}

/** The file system a directory is on (`ext4` …), or `unknown`. */
function fileSystemOf(dir: string): string {
  try {
    return (
      execFileSync('df', ['--output=fstype', dir], { encoding: 'utf8' }).split('\n')[1]?.trim() ||
      'unknown'
    );
  } catch {
    return 'unknown';
  }
}
