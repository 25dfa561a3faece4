/** PEM armour (RFC 7468): 64-column base64 between BEGIN/END lines. */

export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Decodes the first block with this label; other blocks (e.g. a chain's later certs) are ignored. */
export function pemToDer(pem: string, label: string): Buffer {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const from = pem.indexOf(begin);
  const to = from < 0 ? -1 : pem.indexOf(end, from + begin.length);
  if (from < 0 || to < 0) throw new Error(`no ${label} PEM block found`);
  const body = pem.slice(from + begin.length, to).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length === 0)
    throw new Error(`malformed ${label} PEM block`);
  return Buffer.from(body, 'base64');
}
