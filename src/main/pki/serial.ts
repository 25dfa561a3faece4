import { randomBytes } from 'node:crypto';

/**
 * 16 random bytes (RFC 5280 allows up to 20) as 32 lowercase hex chars. The first byte is kept in
 * 0x01..0x7f so DER needs neither a sign-padding byte nor drops a leading zero: the hex printed by
 * openssl is then exactly this string.
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! % 0x7f) + 1;
  return bytes.toString('hex');
}
