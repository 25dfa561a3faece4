/**
 * Minimal DER writer/reader for the hot paths (large CRLs), where building asn1js object
 * trees per entry is too slow. Only the handful of universal types we emit are supported.
 */

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  ENUMERATED: 0x0a,
  SEQUENCE: 0x30,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  CONTEXT_0_CONSTRUCTED: 0xa0,
} as const;

export function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  return tlvList(tag, content);
}

/** Array form for long lists (100k CRL entries would overflow argument spreading). */
export function tlvList(tag: number, content: readonly Buffer[]): Buffer {
  let len = 0;
  for (const c of content) len += c.length;
  const header = Buffer.concat([Buffer.from([tag]), encodeLength(len)]);
  return Buffer.concat([header, ...content], header.length + len);
}

/** Two's-complement minimal encoding of a non-negative integer given as unsigned big-endian bytes. */
export function positiveIntegerContent(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  if (trimmed.length === 0) return Buffer.from([0]);
  // A set high bit would read as negative, so DER needs a leading zero byte.
  return (trimmed[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : Buffer.from(trimmed);
}

/** Unsigned big-endian bytes of a hex serial (colons tolerated, odd length padded). */
export function hexToBytes(hex: string): Buffer {
  const clean = hex.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(clean)) throw new Error(`malformed hex serial "${hex}"`);
  return Buffer.from(clean.length % 2 === 1 ? `0${clean}` : clean, 'hex');
}

export function integerFromHex(hex: string): Buffer {
  return tlv(TAG.INTEGER, positiveIntegerContent(hexToBytes(hex)));
}

export function integerFromBigint(value: bigint): Buffer {
  if (value < 0n) throw new Error('negative integers are not supported');
  const hex = value.toString(16);
  return tlv(TAG.INTEGER, positiveIntegerContent(hexToBytes(hex)));
}

/** Lowercase hex of an INTEGER's content bytes, without the DER sign-padding byte. */
export function integerContentToHex(content: Uint8Array): string {
  const start = content.length > 1 && content[0] === 0 ? 1 : 0;
  return Buffer.from(content.buffer, content.byteOffset + start, content.length - start).toString('hex');
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after; always whole seconds, Zulu. */
export function encodeTime(date: Date): Buffer {
  const y = date.getUTCFullYear();
  const rest =
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    'Z';
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(pad2(y % 100) + rest, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(String(y).padStart(4, '0') + rest, 'latin1'));
}

export interface DerElement {
  tag: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset one past the last content byte. */
  end: number;
}

/** Reads one definite-length TLV at `offset` (DER never uses indefinite lengths). */
export function readElement(buf: Uint8Array, offset: number): DerElement {
  if (offset + 2 > buf.length) throw new Error('truncated DER');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not supported');
  let pos = offset + 1;
  const first = buf[pos++]!;
  let len = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos++]!;
  }
  const end = pos + len;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, start: pos, end };
}
