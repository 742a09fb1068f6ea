/**
 * `node --import tsx bench/profile.ts <build dir>`: a CPU profile of the engine worker while it
 * takes 20,000 commands over 1,000 counters, summed by function (self time). For finding where
 * the time goes; prints, asserts nothing.
 */
import { startHarness } from './harness.ts';
import { counterStream, createJobs, drive, newProfile, openBench } from './pages.ts';
import { EngineProbe } from './worker-cdp.ts';

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] };

const harness = await startHarness(process.argv[2] ?? process.env.TALLY_BENCH_BUILD!);
try {
  const context = await newProfile();
  const probe = await EngineProbe.open(context.browser()!);
  const page = await openBench(context, harness.server.url);
  await drive(page, createJobs('pf', 1_000), 200);
  const hot = process.env.TALLY_PROFILE_HOT === '1';
  const jobs =
    process.env.TALLY_PROFILE_CREATE === '1'
      ? createJobs('new', 5_000)
      : Array.from(
          { length: 20_000 },
          (_, i) =>
            [counterStream('pf', hot ? 0 : i % 1_000), [{ type: 'increment' as const }]] as const,
        );
  // One after another (TALLY_PROFILE_SEQUENTIAL=1): where a single command's time goes.
  const window = process.env.TALLY_PROFILE_SEQUENTIAL === '1' ? 1 : 1_000;
  const t0 = Date.now();
  const profile = (await probe.cpuProfile(() =>
    drive(page, window === 1 ? jobs.slice(0, 3_000) : jobs, window),
  )) as Profile;
  console.log(`${jobs.length} commands in ${Date.now() - t0} ms`);
  const self = new Map<string, number>();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.split('/').pop()}:${lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30))
    console.log(
      `${(us / 1000).toFixed(0).padStart(6)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${key}`,
    );
  // Who calls the hottest native functions, for the ones named in TALLY_PROFILE_CALLERS.
  const parent = new Map<number, Node>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node);
  for (const name of (process.env.TALLY_PROFILE_CALLERS ?? '').split(',').filter(Boolean)) {
    const callers = new Map<string, number>();
    profile.samples.forEach((id, i) => {
      const node = byId.get(id)!;
      if (node.callFrame.functionName !== name) return;
      const chain: string[] = [];
      for (let up = parent.get(id); up && chain.length < 4; up = parent.get(up.id))
        chain.push(`${up.callFrame.functionName || '?'}:${up.callFrame.lineNumber}`);
      const key = chain.join(' < ');
      callers.set(key, (callers.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
    });
    console.log(`callers of ${name}:`);
    for (const [key, us] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 6))
      console.log(`${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
  }
  await probe.close();
  // Closed, and its profile directory removed before this process ends.
  await context.dispose();
} finally {
  await harness.close();
}
