import { isIPv4, isIPv6 } from 'node:net';

/**
 * The pre-authentication budget (issue 8, item 2): sockets still in their TLS handshake have
 * their own limit, all sources together and per source prefix, and never take an authenticated
 * slot. A prefix, not an address, because an IPv6 host owns a whole /64.
 */

/** /32 for IPv4 (IPv4-mapped IPv6 included), /64 for IPv6; anything unparsable is its own key. */
export function sourcePrefix(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  const groups = expandIPv6(address.replace(/%.*$/, ''));
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** Eight 16-bit groups, lowercase, without leading zeros (so one /64 has one spelling). */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16).toString(16));
}

export interface HandshakeBudgetLimits {
  readonly maxHandshakes: number;
  readonly maxHandshakesPerSource: number;
  readonly oversizePenaltyMs: number;
}

/** One admitted socket's claim on the budget, released exactly once. */
export interface Ticket {
  readonly remote: string;
  readonly prefix: string;
  released: boolean;
}

export type Admission =
  { readonly ok: true; readonly ticket: Ticket } | { readonly ok: false; readonly detail: string };

/** After an oversized chain: one handshake per second from that prefix until `until`. */
interface Penalty {
  until: number;
  lastAdmit: number;
}

const PENALTY_INTERVAL_MS = 1_000;
/** Penalties are bounded in number: past this, the oldest is forgotten. */
const MAX_PENALTIES = 10_000;

export class HandshakeBudget {
  private total = 0;
  private readonly perPrefix = new Map<string, number>();
  private readonly penalties = new Map<string, Penalty>();

  constructor(private limits: HandshakeBudgetLimits) {}

  setLimits(limits: HandshakeBudgetLimits): void {
    this.limits = limits;
  }

  get pending(): number {
    return this.total;
  }

  admit(remote: string, now: number): Admission {
    const prefix = sourcePrefix(remote);
    if (this.total >= this.limits.maxHandshakes) {
      return {
        ok: false,
        detail: `${this.total} handshakes in progress (limit ${this.limits.maxHandshakes})`,
      };
    }
    const mine = this.perPrefix.get(prefix) ?? 0;
    if (mine >= this.limits.maxHandshakesPerSource) {
      return {
        ok: false,
        detail: `${mine} handshakes in progress from ${prefix} (limit ${this.limits.maxHandshakesPerSource})`,
      };
    }
    const penalty = this.penalties.get(prefix);
    if (penalty) {
      if (now >= penalty.until) this.penalties.delete(prefix);
      else if (now - penalty.lastAdmit < PENALTY_INTERVAL_MS) {
        return {
          ok: false,
          detail: `${prefix} sent an oversized certificate chain; one handshake per second`,
        };
      } else penalty.lastAdmit = now;
    }
    this.total++;
    this.perPrefix.set(prefix, mine + 1);
    return { ok: true, ticket: { remote, prefix, released: false } };
  }

  release(ticket: Ticket): void {
    if (ticket.released) return;
    ticket.released = true;
    this.total--;
    const n = (this.perPrefix.get(ticket.prefix) ?? 1) - 1;
    if (n <= 0) this.perPrefix.delete(ticket.prefix);
    else this.perPrefix.set(ticket.prefix, n);
  }

  /** The prefix sent a chain past the size or length limit: its next handshakes are rate-limited. */
  penalize(prefix: string, now: number): void {
    if (this.limits.oversizePenaltyMs <= 0) return;
    if (!this.penalties.has(prefix) && this.penalties.size >= MAX_PENALTIES) {
      const oldest = this.penalties.keys().next().value;
      if (oldest !== undefined) this.penalties.delete(oldest);
    }
    this.penalties.set(prefix, { until: now + this.limits.oversizePenaltyMs, lastAdmit: now });
  }
}
