/**
 * Display helpers: the UI's one time format (issue 10), whatever the OS locale says: ISO-like dates
 * (2026-12-01) and 24-hour clocks (14:05), in local time. Never `toLocaleTimeString()` or a native
 * date picker, which follow the locale (12-hour, mm/dd/yyyy). Dates arrive from main as ISO strings;
 * epoch milliseconds are accepted too.
 */

type When = string | number | Date;

const p = (n: number) => String(n).padStart(2, '0');

function toDate(when: When): Date | null {
  const d = when instanceof Date ? when : new Date(when);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** `2026-12-01 14:05` (local). */
export function formatDateTime(when: When): string {
  const d = toDate(when);
  if (!d) return String(when);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** `2026-12-01 14:05:09` (local), for records where the second matters. */
export function formatDateTimeSeconds(when: When): string {
  const d = toDate(when);
  if (!d) return String(when);
  return `${formatDateTime(d)}:${p(d.getSeconds())}`;
}

/** `14:05:09` (local). */
export function formatTime(when: When): string {
  const d = toDate(when);
  if (!d) return String(when);
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `14:05` (local): chart axes and "restarting at". */
export function formatClock(when: When): string {
  return formatTime(when).slice(0, 5);
}

/**
 * A date-time typed as the UI shows them (`2026-12-01 14:05`, `2026-12-01T14:05`, or a date alone for
 * its midnight), local time; null when it is not one. For filter boxes instead of a native picker.
 */
export function parseDateTime(text: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (!m) return null;
  const [y, mo, da, h, mi, se] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as number[];
  const d = new Date(y!, mo! - 1, da!, h, mi, se);
  // Date rolls 2026-02-30 over to March: refuse what does not round-trip.
  if (d.getFullYear() !== y || d.getMonth() !== mo! - 1 || d.getDate() !== da || d.getHours() !== h)
    return null;
  if (h! > 23 || mi! > 59 || se! > 59) return null;
  return d;
}

/** `2026-12-01` (local). */
export function formatDate(when: When): string {
  return formatDateTime(when).slice(0, 10);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Serial as colon-separated pairs for reading; the stored form stays plain hex. */
export function shortSerial(serial: string): string {
  return serial.length > 16 ? `${serial.slice(0, 8)}…${serial.slice(-6)}` : serial;
}

export function formatAge(sinceIso: string, now: number): string {
  const s = Math.max(0, Math.floor((now - Date.parse(sinceIso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  const h = Math.floor(s / 3600);
  return h < 48 ? `${h}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(h / 24)}d`;
}
