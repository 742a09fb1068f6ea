import type { BrowserContext } from 'playwright-core';
import type { Row } from './report.ts';
import type { EngineProbe } from './worker-cdp.ts';

/**
 * What every section gets: the server's origin and the engine probe (each section makes the
 * profiles it needs: bench/pages.ts).
 */
export type Bench = {
  readonly origin: string;
  /** The engine probe of the profile in use (each profile is a browser of its own). */
  probe: EngineProbe;
  readonly buildDir: string;
  readonly redisUrl: string;
  /** Progress for the person waiting; stderr, so stdout stays the table. */
  readonly log: (line: string) => void;
  /**
   * §3's baseline (raw strict IndexedDB puts, 1,000 per transaction, events/s), for a later
   * section's throughput figure in the same run.
   */
  strictPuts?: { readonly label: string; readonly value: number; readonly unit: string };
};

/** A profile that the next sections keep using (the 100k-event aggregate, the 1,000 counters). */
export type Profile = { readonly context: BrowserContext };

export type SectionResult = readonly Row[];
