import type { UpstreamHealth } from '../../../shared/model';

/** `12 s ago`, `3 min ago`, `2 h ago`: how long since an upstream error, in the status bar's words. */
export function agoText(at: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  if (Number.isNaN(s)) return '';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

/** The system error code in an upstream error (`connect ECONNREFUSED 127.0.0.1:8080` → ECONNREFUSED), or the message. */
export function errorCode(message: string): string {
  return /\bE[A-Z]{3,}\b/.exec(message)?.[0] ?? message;
}

/** Main's window (src/main/service/upstream-health.ts): an error older than this no longer says "down". */
const HEALTH_WINDOW_MS = 60_000;

const UNREACHABLE = /\b(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ECONNRESET|EPIPE)\b/;

/**
 * The upstream's trouble in words (issue 10: "Running — upstream unreachable: ECONNREFUSED 12 s ago"),
 * or null while it answers. Urgency is in the words, not only the colour.
 */
export function upstreamProblem(
  health: UpstreamHealth | undefined,
  now: number,
  /** Without "12 s ago": for a live region, which would announce every tick of the age. */
  withAge = true,
): string | null {
  if (!health?.down || !health.lastError) return null;
  const e = health.lastError;
  // Main says "down" as of its last status push; with no traffic since, the minute runs out here.
  if (now - Date.parse(e.at) >= HEALTH_WINDOW_MS) return null;
  const what = UNREACHABLE.test(e.message)
    ? 'upstream unreachable'
    : e.status === 504
      ? 'upstream timing out'
      : 'upstream failing';
  const stable = `${what}: ${errorCode(e.message)}`;
  return withAge ? `${stable} ${agoText(e.at, now)}` : stable;
}

/** The last minute's 5xx share: `2 of 40 requests got a 5xx answer in the last minute`. */
export function errorRateText(health: UpstreamHealth): string {
  if (health.requests === 0) return 'no requests in the last minute';
  return `${health.errors5xx.toLocaleString()} of ${health.requests.toLocaleString()} request${
    health.requests === 1 ? '' : 's'
  } got a 5xx answer in the last minute`;
}
