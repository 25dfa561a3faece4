import type { GatewayConfig } from '../../shared/model';
import { isLoopbackHost } from '../../shared/host-port';
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_UPSTREAM_TIMEOUT_MS, type GatewayOptions } from './wire';

/** Every limit the gateway enforces, resolved once from the operator's config and local options. */
export interface GatewayLimits {
  /** Authenticated connections; sockets in their handshake never count here (issue 8, item 2). */
  readonly maxConnections: number;
  readonly maxConnectionsPerIdentity: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly refusalWindowMs: number;
  readonly refusalBudget: number;
  readonly maxHandshakes: number;
  readonly maxHandshakesPerSource: number;
  readonly maxHandshakeBytes: number;
  readonly maxChainLength: number;
  readonly oversizePenaltyMs: number;
  /** How long a refused client may keep reading its 4xx answer before the socket is destroyed. */
  readonly refusalLingerMs: number;
}

/**
 * Pre-authentication defaults: generous enough that a burst of real clients never waits (the
 * handshake bench opens hundreds per second), small enough that silent sockets cost little memory.
 */
export const DEFAULT_MAX_HANDSHAKES = 256;
export const DEFAULT_MAX_HANDSHAKES_PER_SOURCE = 64;
/** A P-256 leaf plus a few intermediates is ~4 KiB; 32 KiB leaves room for RSA-4096 chains of 4. */
export const DEFAULT_MAX_HANDSHAKE_BYTES = 32 * 1024;
export const DEFAULT_MAX_CHAIN_LENGTH = 4;

export function resolveLimits(config: GatewayConfig, options: GatewayOptions = {}): GatewayLimits {
  return {
    maxConnections: config.maxConnections,
    maxConnectionsPerIdentity: config.maxConnectionsPerIdentity,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    upstreamTimeoutMs: options.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    refusalWindowMs: options.refusalWindowMs ?? 10_000,
    refusalBudget: options.refusalBudget ?? 100,
    maxHandshakes: options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES,
    maxHandshakesPerSource: options.maxHandshakesPerSource ?? DEFAULT_MAX_HANDSHAKES_PER_SOURCE,
    maxHandshakeBytes: options.maxHandshakeBytes ?? DEFAULT_MAX_HANDSHAKE_BYTES,
    maxChainLength: options.maxChainLength ?? DEFAULT_MAX_CHAIN_LENGTH,
    oversizePenaltyMs: options.oversizePenaltyMs ?? 30_000,
    refusalLingerMs: 1_000,
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
