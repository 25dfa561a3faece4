/**
 * Serial numbers as operators paste them (issue 10): `serial=0A1B…` from `openssl x509 -serial`,
 * `0x0a1b…`, `0a:1b:…` from `openssl x509 -text` or a browser, with spaces, in upper case. The
 * registry keeps lowercase hex without separators; these turn any of those spellings into that.
 */

/** The longest serial RFC 5280 allows: 20 octets. */
const MAX_HEX = 40;

/** Lowercase hex of a pasted serial, or null when it is not one (empty, non-hex, too long). */
export function normalizeSerialInput(text: string): string | null {
  let s = text.trim();
  s = s.replace(/^serial\s*(number)?\s*[=:]\s*/i, '');
  s = s.replace(/^0x/i, '');
  s = s.replace(/[\s:-]/g, '').toLowerCase();
  if (s === '' || s.length > MAX_HEX || !/^[0-9a-f]+$/.test(s)) return null;
  return s;
}

/** The same number however many leading zeros a tool printed (`00:1a` and `1a` are one serial). */
function significant(hex: string): string {
  return hex.replace(/^0+(?=.)/, '');
}

export function sameSerial(a: string, b: string): boolean {
  return significant(a.toLowerCase()) === significant(b.toLowerCase());
}

/** The registry's serial that `text` names, in any spelling; undefined when none does. */
export function findBySerial<T extends { readonly serial: string }>(
  items: readonly T[],
  text: string,
): T | undefined {
  const hex = normalizeSerialInput(text);
  if (hex === null) return undefined;
  return items.find((c) => sameSerial(c.serial, hex));
}

/**
 * Whether a client row matches the filter box: a name substring, or a serial fragment in any
 * spelling (a colon-separated or `serial=` paste finds the row; a fragment matches anywhere).
 */
export function matchesClientFilter(
  c: { readonly name: string; readonly serial: string },
  query: string,
): boolean {
  const q = query.trim();
  if (q === '') return true;
  if (c.name.toLowerCase().includes(q.toLowerCase())) return true;
  const hex = normalizeSerialInput(q);
  if (hex === null) return false;
  return c.serial.toLowerCase().includes(hex) || sameSerial(c.serial, hex);
}

/** `0a1b2c` → `0a:1b:2c`. */
export function serialColons(hex: string): string {
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return (even.match(/../g) ?? []).join(':');
}
