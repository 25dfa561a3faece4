// Writes build/icon.png (512x512 RGBA): a padlock on a rounded tile. Generated rather than drawn so
// the repository needs no image tools; run `node build/make-icon.cjs` after changing it.
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { Buffer } = require('node:buffer');

const SIZE = 512;
const SS = 4; // supersampling per axis, for smooth edges

function roundedRect(x, y, x0, y0, x1, y1, r) {
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return x >= x0 && x <= x1 && y >= y0 && y <= y1 && (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/** Colour at one sub-pixel: [r, g, b, a] in 0..255. */
function shade(x, y) {
  if (!roundedRect(x, y, 16, 16, 496, 496, 96)) return [0, 0, 0, 0];
  const t = y / SIZE;
  let c = [Math.round(22 + 18 * t), Math.round(48 + 40 * t), Math.round(92 + 60 * t), 255];
  // Shackle: a ring cut off below its centre line.
  const d = Math.hypot(x - 256, y - 214);
  if (y <= 240 && d >= 72 && d <= 104) c = [226, 232, 240, 255];
  if (y > 214 && y <= 250 && ((x >= 152 && x <= 184) || (x >= 328 && x <= 360))) c = [226, 232, 240, 255];
  // Body.
  if (roundedRect(x, y, 128, 236, 384, 432, 28)) {
    c = [245, 179, 66, 255];
    // Keyhole: a circle and a slot.
    if (Math.hypot(x - 256, y - 316) <= 26 || (x >= 246 && x <= 266 && y >= 316 && y <= 384))
      c = [40, 52, 74, 255];
  }
  return c;
}

const raw = Buffer.alloc((SIZE * 4 + 1) * SIZE);
for (let y = 0; y < SIZE; y++) {
  const row = y * (SIZE * 4 + 1);
  raw[row] = 0; // filter: none
  for (let x = 0; x < SIZE; x++) {
    const acc = [0, 0, 0, 0];
    for (let sy = 0; sy < SS; sy++) {
      for (let sx = 0; sx < SS; sx++) {
        const c = shade(x + (sx + 0.5) / SS, y + (sy + 0.5) / SS);
        // Premultiply so transparent sub-pixels do not darken the edge.
        acc[0] += c[0] * c[3];
        acc[1] += c[1] * c[3];
        acc[2] += c[2] * c[3];
        acc[3] += c[3];
      }
    }
    const a = acc[3];
    const o = row + 1 + x * 4;
    raw[o] = a ? Math.round(acc[0] / a) : 0;
    raw[o + 1] = a ? Math.round(acc[1] / a) : 0;
    raw[o + 2] = a ? Math.round(acc[2] / a) : 0;
    raw[o + 3] = Math.round(a / (SS * SS));
  }
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(SIZE, 0);
ihdr.writeUInt32BE(SIZE, 4);
ihdr[8] = 8; // bit depth
ihdr[9] = 6; // RGBA
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', ihdr),
  chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
const out = path.join(__dirname, 'icon.png');
fs.writeFileSync(out, png);
console.log(`wrote ${out} (${png.length} bytes)`);
