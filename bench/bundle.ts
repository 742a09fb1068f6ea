import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
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
 * SharedWorker's chunk, and what those import statically; then everything the service worker's
 * precache fetches on top of it. Gzip level 9 (what a server would send).
 */
export async function measureBundle(buildDir: string): Promise<Row[]> {
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
  const page = sizes(buildDir, first);
  // The service worker installs on the first visit and fetches its whole precache at once.
  const sw = readFileSync(join(buildDir, 'sw.js'), 'utf8');
  const all = new Set([...first, '/sw.js']);
  for (const [, url] of sw.matchAll(/url:"([^"]+\.js)"/g)) all.add(`/${url}`);
  for (const [, name] of sw.matchAll(/"\.\/(workbox-[\w-]+)"/g)) all.add(`/${name}.js`);
  const everything = sizes(buildDir, all);
  // Left out of the precache: only a browser without SharedWorker loads (and keeps) it.
  const leader = readdirSync(join(buildDir, 'assets')).filter((file) =>
    /^leader-client-[\w-]+\.js$/.test(file),
  );
  const fallback = sizes(
    buildDir,
    leader.map((file) => `/assets/${file}`),
  );
  const engine = sizes(buildDir, [engineUrl(buildDir)]);
  const react = await bareReactPage();
  return [
    {
      section: '8 bundle',
      figure: 'JavaScript a first visit loads, gzipped',
      value: page.gzip / 1024,
      unit: 'KiB',
      baseline: { label: 'the same files uncompressed', value: page.raw / 1024 },
      note: [...first].map((url) => url.replace('/assets/', '')).join(', '),
    },
    {
      section: '8 bundle',
      figure: 'JavaScript a first visit downloads, service worker precache included, gzipped',
      value: everything.gzip / 1024,
      unit: 'KiB',
      baseline: { label: 'the same files uncompressed', value: everything.raw / 1024 },
      note: `${[...all]
        .filter((url) => !first.has(url))
        .map((url) => url.replace('/assets/', ''))
        .join(', ')}; a browser without SharedWorker also loads the leader-tab fallback (${(
        fallback.gzip / 1024
      ).toFixed(1)} KiB), not precached, and keeps it`,
    },
    {
      section: '8 bundle',
      figure: 'reference: of what a first visit loads, the SharedWorker (the engine), gzipped',
      value: engine.gzip / 1024,
      unit: 'KiB',
      baseline: { label: 'JavaScript a first visit loads (above)', value: page.gzip / 1024 },
    },
    {
      section: '8 bundle',
      figure:
        'reference: the least a React page loads (react-dom/client rendering one element, built by the same Vite), gzipped',
      value: react.gzip / 1024,
      unit: 'KiB',
      baseline: { label: 'JavaScript a first visit loads (above)', value: page.gzip / 1024 },
      note: `with the engine's SharedWorker beside it, ${((react.gzip + engine.gzip) / 1024).toFixed(0)} KiB before any of Tally's UI`,
    },
  ];
}

/**
 * Builds the smallest page React renders, with the same Vite and target as the app (minified,
 * production), into a scratch folder under node_modules (so it resolves the app's own react and
 * react-dom), and answers the size of its JavaScript.
 */
async function bareReactPage(): Promise<{ raw: number; gzip: number }> {
  const root = join(process.cwd(), 'node_modules', '.cache', 'tally-bench-react');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, 'index.html'),
    '<!doctype html><div id="root"></div><script type="module" src="./main.js"></script>\n',
  );
  writeFileSync(
    join(root, 'main.js'),
    [
      "import { createElement } from 'react';",
      "import { createRoot } from 'react-dom/client';",
      "createRoot(document.getElementById('root')).render(createElement('p', null, 'Hello'));",
      '',
    ].join('\n'),
  );
  const outDir = join(root, 'dist');
  await build({
    root,
    configFile: false,
    logLevel: 'silent',
    mode: 'production',
    build: { outDir, target: 'es2022', emptyOutDir: true },
  });
  const files = readdirSync(join(outDir, 'assets')).filter((file) => file.endsWith('.js'));
  if (files.length === 0) throw new Error('The bare React page built no JavaScript.');
  const size = sizes(
    outDir,
    files.map((file) => `/assets/${file}`),
  );
  rmSync(root, { recursive: true, force: true });
  return size;
}

function sizes(buildDir: string, urls: Iterable<string>): { raw: number; gzip: number } {
  let raw = 0;
  let gzip = 0;
  for (const url of urls) {
    const bytes = readFileSync(join(buildDir, url));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gzip };
}
