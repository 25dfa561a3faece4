/**
 * Host and HOST:PORT parsing, without zod: the gateway child process loads this (issue 12 keeps zod
 * out of it); validation.ts re-exports it for everyone else.
 */

const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_RE = new RegExp(`^(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`);
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;

export type HostKind = 'dns' | 'ip';

/** Classifies a server host as a DNS name or an IP address, or returns null when it is neither. */
export function classifyHost(host: string): HostKind | null {
  if (IPV4_RE.test(host)) return 'ip';
  if (host.includes(':')) return IPV6_RE.test(host) && isIpv6(host) ? 'ip' : null;
  if (host.length <= 253 && DNS_RE.test(host) && !/^\d+(\.\d+)*$/.test(host)) return 'dns';
  return null;
}

function isIpv6(host: string): boolean {
  const parts = host.split('::');
  if (parts.length > 2) return false;
  const groups = host.split(':').filter((g) => g !== '');
  const last = groups[groups.length - 1] ?? '';
  const hasV4 = last.includes('.');
  if (hasV4 && !IPV4_RE.test(last)) return false;
  const count = groups.length + (hasV4 ? 1 : 0);
  if (!groups.every((g) => g.includes('.') || /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return parts.length === 2 ? count < 8 : count === 8;
}

export function parseHostPort(s: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  const host = (m[1] ?? m[2]) as string;
  if (classifyHost(host) === null && host !== 'localhost') return null;
  return { host, port };
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
