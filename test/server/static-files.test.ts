import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncApp, type SyncApp } from '../../server/app.ts';
import type { RequestLogLine, ServerLogLine } from '../../server/request-log.ts';
import { contentSecurityPolicy } from '../../server/security-headers.ts';

const secret = 'a-test-secret-that-is-long-enough-0123456789';
/** Large enough to be worth compressing, as the app's bundles are. */
const bigScript = Array.from({ length: 2_000 }, (_, i) => `export const line${i} = ${i};`).join(
  '\n',
);
let dist: string;
let app: SyncApp;

beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'tally-dist-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Tally</title>');
  writeFileSync(join(dist, 'sw.js'), 'self.skipWaiting();');
  writeFileSync(join(dist, 'manifest.webmanifest'), '{"name":"Tally"}');
  writeFileSync(join(dist, 'assets', 'index-3f2a9c.js'), 'console.log(1);');
  writeFileSync(join(dist, 'assets', 'app-77aa01.js'), bigScript);
  writeFileSync(join(dist, 'assets', 'app-77aa01.js.map'), '{"version":3,"sources":["app.tsx"]}');
  // A bundle the build compressed ahead (vite.config.ts `precompress`).
  writeFileSync(join(dist, 'assets', 'ui-55bb02.js'), bigScript);
  writeFileSync(join(dist, 'assets', 'ui-55bb02.js.br'), brotliCompressSync(bigScript));
  writeFileSync(join(dist, 'assets', 'ui-55bb02.js.gz'), gzipSync(bigScript));
  app = createSyncApp({ redis: false, secret, staticDir: dist, log: false });
});

afterAll(async () => {
  await app.close();
  rmSync(dist, { recursive: true, force: true });
});

const html = { Accept: 'text/html,application/xhtml+xml' };

describe('serving the built app', () => {
  it('serves index.html at / with security headers and no-cache', async () => {
    const response = await app.request('/', { headers: html });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('content-security-policy')).toBe(contentSecurityPolicy);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await response.text()).toContain('<title>Tally</title>');
  });

  it('caches hashed assets for a year, and never sw.js or the manifest', async () => {
    const asset = await app.request('/assets/index-3f2a9c.js');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toContain('javascript');
    const sw = await app.request('/sw.js');
    expect(sw.headers.get('cache-control')).toBe('no-cache');
    const manifest = await app.request('/manifest.webmanifest');
    expect(manifest.headers.get('content-type')).toBe('application/manifest+json');
    expect(manifest.headers.get('cache-control')).toBe('no-cache');
  });

  // Issue 13, item 10: a first visit downloaded the bundles uncompressed, and the source maps
  // were public.
  it('compresses what a browser accepts compressed, and says it varies', async () => {
    const response = await app.request('/assets/app-77aa01.js', {
      headers: { 'Accept-Encoding': 'gzip, deflate, br, zstd' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.headers.get('vary')).toMatch(/Accept-Encoding/);
    const compressed = Buffer.from(await response.arrayBuffer());
    expect(compressed.length).toBeLessThan(Buffer.byteLength(bigScript) / 3);
    expect(gunzipSync(compressed).toString()).toBe(bigScript);
    const plain = await app.request('/assets/app-77aa01.js');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe(bigScript);
  });

  it('serves the copies the build compressed ahead, Brotli first, as they are', async () => {
    const brotli = await app.request('/assets/ui-55bb02.js', {
      headers: { 'Accept-Encoding': 'gzip, deflate, br, zstd' },
    });
    expect(brotli.status).toBe(200);
    expect(brotli.headers.get('content-encoding')).toBe('br');
    expect(brotli.headers.get('content-type')).toMatch(/javascript/);
    expect(brotli.headers.get('vary')).toMatch(/Accept-Encoding/);
    expect(brotli.headers.get('cache-control')).toMatch(/immutable/);
    expect(brotliDecompressSync(Buffer.from(await brotli.arrayBuffer())).toString()).toBe(
      bigScript,
    );
    const gzip = await app.request('/assets/ui-55bb02.js', {
      headers: { 'Accept-Encoding': 'gzip' },
    });
    expect(gzip.headers.get('content-encoding')).toBe('gzip');
    expect(gunzipSync(Buffer.from(await gzip.arrayBuffer())).toString()).toBe(bigScript);
    const plain = await app.request('/assets/ui-55bb02.js');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe(bigScript);
  });

  it('does not serve source maps', async () => {
    const response = await app.request('/assets/app-77aa01.js.map');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'not-found' } });
  });

  it('answers navigations to app routes with index.html', async () => {
    const response = await app.request('/counters/42', { headers: html });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<title>Tally</title>');
  });

  it('answers a missing file with a JSON 404, not the app', async () => {
    const response = await app.request('/assets/missing.js');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'not-found' } });
  });

  it('does not leave its folder', async () => {
    const response = await app.request('/%2e%2e/%2e%2e/etc/passwd');
    expect(response.status).toBe(404);
  });

  it('says how to build the app when dist is missing', async () => {
    const bare = createSyncApp({ redis: false, secret, staticDir: join(dist, 'nope'), log: false });
    const response = await bare.request('/', { headers: html });
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('npm run build');
    expect((await bare.request('/api/nothing')).status).toBe(404);
    await bare.close();
  });
});

describe('options', () => {
  it.each([
    ['a short secret', { secret: 'short' }],
    ['a redis URL that is none', { redis: 'http://example.com' }],
    ['a heartbeat of 0', { heartbeatMs: 0 }],
    ['an unknown option', { colour: 'blue' }],
  ])('rejects %s at once', (_, change) => {
    expect(() => createSyncApp({ redis: false, secret, ...change } as never)).toThrow(TypeError);
  });
});

describe('request log', () => {
  it('writes one line per request, without the query (tokens)', async () => {
    const lines: (RequestLogLine | ServerLogLine)[] = [];
    const logged = createSyncApp({
      redis: false,
      secret,
      staticDir: false,
      log: (line) => lines.push(line),
    });
    const { space, token } = (await (
      await logged.request('/api/spaces', { method: 'POST' })
    ).json()) as {
      space: string;
      token: string;
    };
    await logged.request(`/api/spaces/${space}/live?token=${token}`);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ method: 'POST', path: '/api/spaces', status: 201 });
    expect(lines[1]).toMatchObject({
      method: 'GET',
      path: `/api/spaces/${space}/live`,
      status: 503,
      error: 'unavailable',
    });
    expect(JSON.stringify(lines)).not.toContain(token);
    for (const line of lines) expect(typeof (line as RequestLogLine).ms).toBe('number');
    await logged.close();
  });
});
