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
    profiles: profilesOn(fileSystemOf(tmpdir())),
    Node: process.version,
    date: new Date().toISOString(),
  };
}

/** Where the profiles' IndexedDB is: a RAM-backed file system is memory, not a disk. */
function profilesOn(fs: string): string {
  return fs === 'tmpfs' || fs === 'ramfs' ? `in memory (${fs})` : `on disk (${fs})`;
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
