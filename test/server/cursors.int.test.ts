import { describe, expect, it } from 'vitest';
import { pullResponseSchema } from '../../core/protocol.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { auth, createSpace, events, openLive, push, pushBody, streamOf } from './fixtures.ts';

/**
 * Issue 13, item 5: the largest cursor the parser accepted reached Redis as `(max-max`, which
 * Redis refuses, and the answer was 503, which clients retry for ever. Every cursor the parser
 * accepts must work, against the real Redis.
 */
const sync = syncServerFixture();

const max = '18446744073709551615';
const extremes = [
  '0',
  '0-0',
  '0-1',
  `0-${max}`,
  `${max}-0`,
  `${max}-${max}`,
  `1-${max}`,
  '00000000000000000000-00000000000000000000',
  `0${max.slice(1)}-00000000000000000001`,
];

describe('extreme cursors', () => {
  for (const cursor of extremes)
    it(`after=${cursor} pulls and follows (200), never 503`, async () => {
      const { space, token } = await createSpace(sync.url);
      const stream = streamOf();
      const pushed = await push(
        sync.url,
        space,
        token,
        pushBody(stream, 0, events(stream, 0, ['Created'])),
      );
      expect(pushed.status).toBe(200);
      const pulled = await fetch(`${sync.url}/api/spaces/${space}/events?after=${cursor}&limit=1`, {
        headers: auth(token),
      });
      const text = await pulled.text();
      expect(pulled.status, text).toBe(200);
      const page = pullResponseSchema.parse(JSON.parse(text));
      // Nothing comes after the last possible position; the beginning has the one event. A
      // cursor that names no entry of the feed is answered as a feed that went back (to the
      // beginning, before the one event, which is then still to come).
      expect(page.more).toBe(page.wentBack === true && page.cursor === '0');
      expect(page.entries.length).toBeLessThanOrEqual(1);
      const live = await openLive(
        `${sync.url}/api/spaces/${space}/live?after=${cursor}`,
        auth(token),
      );
      expect(live.response.status).toBe(200);
      live.close();
      const byHeader = await openLive(`${sync.url}/api/spaces/${space}/live`, {
        ...auth(token),
        'Last-Event-ID': cursor,
      });
      expect(byHeader.response.status).toBe(200);
      byHeader.close();
    });
});
