/**
 * Maps a client's request-target onto the upstream base path so that nothing leaves it (issue 8
 * item 11). Dot-segments, raw or percent-encoded, are removed per RFC 3986 §5.2.4; anything an
 * upstream could still read as a way out (a climb above the root, a backslash, an encoded slash or
 * a `;` parameter inside a dot-segment) is refused, as nginx refuses `/../x` with 400.
 */

export type TargetVerdict =
  { readonly ok: true; readonly path: string } | { readonly ok: false; readonly detail: string };

/** The upstream request-target, and the normalised client path (no query) access rules see. */
export type UpstreamTarget =
  | { readonly ok: true; readonly path: string; readonly clientPath: string }
  | { readonly ok: false; readonly detail: string };

/** Characters that can make a segment a dot-segment or a separator once an upstream decodes it. */
const SUSPECT = /[.%\\;]/;

/** Percent-decodes what matters for dot-segment detection; leaves malformed escapes as they are. */
function looseDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment.replace(/%2e/gi, '.');
  }
}

/** A segment some upstream may treat as `.` or `..`: Tomcat reads `..;x` as `..` (path parameter). */
function dotKind(decoded: string): '.' | '..' | null {
  const bare = decoded.split(';', 1)[0] ?? '';
  if (bare === '.') return '.';
  if (bare === '..') return '..';
  return null;
}

function normalisePath(path: string): TargetVerdict {
  if (!SUSPECT.test(path)) return { ok: true, path };
  if (path.includes('\\') || /%5c/i.test(path)) {
    return { ok: false, detail: 'backslash in path' };
  }
  const out: string[] = [];
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const raw = segments[i] ?? '';
    const last = i === segments.length - 1;
    const decoded = raw.includes('%') ? looseDecode(raw) : raw;
    // `..%2fadmin` is one segment here but `../admin` to an upstream that decodes before splitting.
    if (decoded.includes('/') && decoded.split('/').some((part) => dotKind(part) !== null)) {
      return { ok: false, detail: 'encoded slash in a dot-segment' };
    }
    // `%252e%252e` becomes `..` at an upstream that decodes twice.
    if (decoded.includes('%') && dotKind(looseDecode(decoded)) !== null) {
      return { ok: false, detail: 'double-encoded dot-segment' };
    }
    const kind = dotKind(decoded);
    if (kind !== null && decoded !== kind) {
      return { ok: false, detail: 'parameter on a dot-segment' };
    }
    if (kind === '.') {
      // "/a/." names the directory "/a/": keep the trailing slash (RFC 3986 §5.2.4 step 2B).
      if (last) out.push('');
      continue;
    }
    if (kind === '..') {
      if (out.length === 0) return { ok: false, detail: 'path climbs above the root' };
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(raw);
  }
  return { ok: true, path: `/${out.join('/')}` };
}

/**
 * The upstream request path for a client's request-target: `basePath` + the normalised path, with
 * the query string untouched. Only origin-form targets are accepted (RFC 9112 §3.2.1): an
 * absolute-form or asterisk-form target is not something a reverse proxy forwards.
 */
export function upstreamTarget(basePath: string, target: string | undefined): UpstreamTarget {
  const t = target ?? '/';
  if (!t.startsWith('/')) return { ok: false, detail: 'request-target is not origin-form' };
  const q = t.indexOf('?');
  const path = q === -1 ? t : t.slice(0, q);
  const query = q === -1 ? '' : t.slice(q);
  if (path.includes('#')) return { ok: false, detail: 'fragment in request-target' };
  const v = normalisePath(path);
  return v.ok ? { ok: true, path: basePath + v.path + query, clientPath: v.path } : v;
}
