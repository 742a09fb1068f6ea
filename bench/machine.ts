import { cpus, totalmem } from 'node:os';
import type { Browser } from 'playwright-core';
import type { Machine } from './report.ts';

export function describeMachine(browser: Browser): Machine {
  const cpu = cpus();
  return {
    CPU: cpu[0]?.model.trim() ?? 'unknown',
    cores: String(cpu.length),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    Chromium: browser.version(),
    Node: process.version,
    date: new Date().toISOString(),
  };
}
