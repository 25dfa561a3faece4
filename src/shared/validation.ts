import { z } from 'zod';
import { classifyHost, parseHostPort } from './host-port';

// Host parsing lives in a zod-free module the gateway child loads (issue 12: no zod there).
export { classifyHost, isLoopbackHost, parseHostPort, type HostKind } from './host-port';

/**
 * Client names become the certificate CN and a file name, so only a small alphabet is allowed:
 * `alice@operators` works, `CN=x,O=y` and `../x` cannot be injected.
 */
export const CLIENT_NAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;
export const clientNameSchema = z
  .string()
  .regex(CLIENT_NAME_RE, 'name must be 1-64 characters of letters, digits and . _ @ -')
  .refine((n) => n !== '.' && n !== '..', 'name must not be . or ..');

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const MAX_CLIENT_TTL_MS = 90 * DAY_MS;

const DURATION_RE = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses `30m`, `24h`, `7d`, `1h30m`; returns milliseconds, or null when malformed or zero. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (t === '') return null;
  const m = DURATION_RE.exec(t);
  if (!m) return null;
  const [, d, h, min, s] = m;
  const ms =
    Number(d ?? 0) * DAY_MS + Number(h ?? 0) * HOUR_MS + Number(min ?? 0) * MINUTE_MS + Number(s ?? 0) * 1000;
  return Number.isSafeInteger(ms) && ms > 0 ? ms : null;
}

export function formatDuration(ms: number): string {
  const parts: string[] = [];
  let rest = Math.floor(ms / 1000);
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('') || '0s';
}

export const durationSchema = z
  .string()
  .transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `invalid duration "${s}" (use e.g. 30m, 24h, 7d, 1h30m)` });
      return z.NEVER;
    }
    return ms;
  })
  .refine((ms) => ms <= MAX_CLIENT_TTL_MS, 'duration must be at most 90 days');

/** Serials are shown and stored as lowercase hex without colons. */
export function normalizeSerial(text: string): string | null {
  const s = text.trim().replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,40}$/.test(s)) return null;
  return s;
}

export const serialSchema = z.string().transform((s, ctx) => {
  const n = normalizeSerial(s);
  if (n === null) {
    ctx.addIssue({ code: 'custom', message: `malformed serial "${s}" (expected hex, colons allowed)` });
    return z.NEVER;
  }
  return n;
});

export const ALGORITHMS = ['ecdsa-p256', 'ecdsa-p384', 'rsa-4096'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];
export const algorithmSchema = z.enum(ALGORITHMS);

export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];
export const revocationReasonSchema = z.enum(REVOCATION_REASONS);

export const hostSchema = z
  .string()
  .trim()
  .refine((h) => classifyHost(h) !== null, { message: 'not a valid DNS name or IP address' });

export const hostsSchema = z.array(hostSchema).min(1, 'name at least one server host').max(100);

/** `127.0.0.1:19821` or `[::1]:19821`. */
export const listenAddressSchema = z.string().refine((s) => parseHostPort(s) !== null, {
  message: 'listen address must be HOST:PORT, e.g. 127.0.0.1:19821',
});

export const upstreamUrlSchema = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  },
  { message: 'upstream must be an http:// or https:// URL' },
);
