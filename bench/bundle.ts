import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { engineUrl } from './harness.ts';
import type { Row } from './report.ts';

const attr = (tag: string, name: string) => new RegExp(`${name}="([^"]+)"`).exec(tag)?.[1];

/** The chunks a file imports statically (`import … from "./x.js"`, `import "./x.js"`). */
function staticImports(buildDir: string, url: string): string[] {
  const code = readFileSync(join(buildDir, url), 'utf8');
  const base = url.slice(0, url.lastIndexOf('/') + 1);
  return [
    ...code.matchAll(/(?:^|[;\s}])import\s*(?:[\w{}*,\s$]+from\s*)?["'](\.\/[^"']+)["']/g),
  ].map((match) => base + match[1]!.slice(2));
}

/**
 * §8: the JavaScript a first visit loads: index.html's entry script and modulepreloads, the
 * SharedWorker's chunk, and what those import statically. Gzip level 9 (what a server would send).
 */
export function measureBundle(buildDir: string): Row[] {
  const html = readFileSync(join(buildDir, 'index.html'), 'utf8');
  const first = new Set<string>();
  for (const tag of html.match(/<script[^>]*>/g) ?? []) {
    const src = attr(tag, 'src');
    if (src && attr(tag, 'type') === 'module') first.add(src);
  }
  for (const tag of html.match(/<link[^>]*>/g) ?? [])
    if (attr(tag, 'rel') === 'modulepreload') first.add(attr(tag, 'href')!);
  first.add(engineUrl(buildDir));
  for (const url of [...first]) for (const dep of staticImports(buildDir, url)) first.add(dep);
  let raw = 0;
  let gzip = 0;
  for (const url of first) {
    const bytes = readFileSync(join(buildDir, url));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return [
    {
      section: '8 bundle',
      figure: 'JavaScript a first visit loads, gzipped',
      value: gzip / 1024,
      unit: 'KiB',
      baseline: { label: 'the same files uncompressed', value: raw / 1024 },
      note: [...first].map((url) => url.replace('/assets/', '')).join(', '),
    },
  ];
}
