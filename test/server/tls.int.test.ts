import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as https } from 'node:https';
import { connect as http2 } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { syncServerFixture } from '../helpers/sync-server.ts';

// A self-signed certificate for 127.0.0.1, made for this file and removed after it.
const dir = mkdtempSync(join(tmpdir(), 'tally-tls-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ],
  { stdio: 'ignore' },
);
const cert = readFileSync(join(dir, 'cert.pem'));
const key = readFileSync(join(dir, 'key.pem'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sync = syncServerFixture({
  server: { tls: { cert, key }, requestTimeoutMs: 800, headersTimeoutMs: 800 },
});

describe('HTTPS (TALLY_TLS_CERT, TALLY_TLS_KEY)', () => {
  it('serves HTTP/1.1 over TLS to a client that trusts the certificate', async () => {
    expect(sync.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { status, protocol, body } = await new Promise<{
      status: number;
      protocol: string;
      body: string;
    }>((resolve, reject) => {
      const req = https(
        `${sync.url}/api/health`,
        { ca: cert, ALPNProtocols: ['http/1.1'] } as Parameters<typeof https>[1],
        (res) => {
          let body = '';
          const protocol = (res.socket as { alpnProtocol?: string } | null)?.alpnProtocol ?? '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              protocol,
              body,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect({ status, protocol }).toEqual({ status: 200, protocol: 'http/1.1' });
    expect(JSON.parse(body)).toMatchObject({ ok: true });
  });

  it('serves HTTP/2 to a client that offers it', async () => {
    const session = http2(sync.url, { ca: cert });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/api/health' });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
        stream.end();
      });
      expect(status).toBe(200);
      expect(session.alpnProtocol).toBe('h2');
    } finally {
      session.close();
    }
  });

  it('refuses a client that does not trust the certificate', async () => {
    const error = await new Promise<Error>((resolve) => {
      const req = https(`${sync.url}/api/health`, {}, () => resolve(new Error('answered')));
      req.on('error', resolve);
      req.end();
    });
    expect(error.message).toMatch(/self.signed|certificate/i);
  });
});
