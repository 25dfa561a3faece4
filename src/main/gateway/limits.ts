import type { GatewayConfig } from '../../shared/model';
import { isLoopbackHost } from '../../shared/validation';
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_UPSTREAM_TIMEOUT_MS, type GatewayOptions } from './protocol';

/** Every limit the gateway enforces, resolved once from the operator's config and local options. */
export interface GatewayLimits {
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly refusalWindowMs: number;
}

export function resolveLimits(config: GatewayConfig, options: GatewayOptions = {}): GatewayLimits {
  return {
    maxConnections: config.maxConnections,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    upstreamTimeoutMs: options.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    refusalWindowMs: options.refusalWindowMs ?? 10_000,
  };
}

/**
 * Parses the upstream URL and enforces DESIGN.md §8: loopback only, unless the operator chose
 * otherwise. Checked in the gateway too, so a bad message cannot turn it into an open relay.
 */
export function checkedUpstream(config: GatewayConfig): URL {
  const url = new URL(config.upstream);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`upstream must be http:// or https://, got ${url.protocol}`);
  }
  if (!config.allowRemoteUpstream && !isLoopbackHost(url.hostname)) {
    throw new Error(`upstream ${url.host} is not a loopback address (allowRemoteUpstream is off)`);
  }
  return url;
}

/** How often the connection table is swept for idle peers and published (≤ 4 snapshots per second). */
export const TICK_MS = 250;
/** While connections are live, a snapshot goes out at least this often so byte counters move. */
export const HEARTBEAT_MS = 1000;
