// Draws Tally's icons (four strokes and a slash, white on teal) as PNGs, with no image library:
// `node scripts/make-icons.mjs` writes public/icons. The outputs are committed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const teal = [15, 118, 110];
const white = [255, 255, 255];

function crc32(buf) {
  let c,
    crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** `pixel(x, y)` in [0,1]² returns [r,g,b,a]. */
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel((x + 0.5) / size, (y + 0.5) / size);
      raw.set([r, g, b, a], y * (size * 4 + 1) + 1 + x * 4);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The mark, drawn inside the central `safe` fraction of the square. */
function mark(x, y, safe) {
  const u = (x - 0.5) / safe + 0.5;
  const v = (y - 0.5) / safe + 0.5;
  if (u < 0 || u > 1 || v < 0 || v > 1) return false;
  const inBar =
    [0.2, 0.37, 0.54, 0.71].some((cx) => Math.abs(u - cx) < 0.045) && v > 0.2 && v < 0.8;
  // The slash across the four strokes: distance to the line from (0.1,0.7) to (0.9,0.3).
  const dist = Math.abs(-0.4 * (u - 0.1) - 0.8 * (v - 0.7)) / Math.hypot(0.4, 0.8);
  const inSlash = dist < 0.04 && u > 0.08 && u < 0.92;
  return inBar || inSlash;
}

function roundedSquare(x, y, radius) {
  const dx = Math.max(Math.abs(x - 0.5) - (0.5 - radius), 0);
  const dy = Math.max(Math.abs(y - 0.5) - (0.5 - radius), 0);
  return Math.hypot(dx, dy) <= radius;
}

const any = (x, y) =>
  roundedSquare(x, y, 0.18) ? [...(mark(x, y, 0.8) ? white : teal), 255] : [0, 0, 0, 0];
// Maskable: full bleed, the mark inside the 80% safe zone the platform may crop to.
const maskable = (x, y) => [...(mark(x, y, 0.6) ? white : teal), 255];

mkdirSync('public/icons', { recursive: true });
writeFileSync('public/icons/icon-192.png', png(192, any));
writeFileSync('public/icons/icon-512.png', png(512, any));
writeFileSync('public/icons/maskable-512.png', png(512, maskable));
writeFileSync('public/icons/apple-touch-icon.png', png(180, maskable));
writeFileSync(
  'public/icons/icon.svg',
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect width="100" height="100" rx="18" fill="#0f766e"/><g stroke="#fff" stroke-width="7" stroke-linecap="round"><path d="M26 26v48M40 26v48M54 26v48M68 26v48"/><path d="M18 66 82 34"/></g></svg>\n`,
);
console.log('icons written to public/icons');
