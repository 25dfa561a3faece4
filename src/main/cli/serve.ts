import type { CommandContext } from './commands';
import { parseFlag } from './commands';
import type { OptionSpec } from './usage';
import { usageError } from './usage';
import {
  isLoopbackHost,
  listenAddressSchema,
  parseHostPort,
  upstreamUrlSchema,
} from '../../shared/validation';
import type { GatewayConfig } from '../../shared/model';

export const serveCommandOptions: Readonly<Record<string, OptionSpec>> = {
  listen: {
    type: 'string',
    value: 'HOST:PORT',
    description: 'listen address (default 127.0.0.1:19821; saved)',
  },
  upstream: {
    type: 'string',
    value: 'URL',
    description: 'upstream API (default http://127.0.0.1:18970; saved)',
  },
  'max-connections': {
    type: 'string',
    value: 'N',
    description: 'concurrent connections (default 50; saved)',
  },
  'max-connections-per-identity': {
    type: 'string',
    value: 'N',
    description: 'live connections one client certificate may hold (default 10; saved)',
  },
  'allow-remote-upstream': {
    type: 'boolean',
    description: 'allow an upstream that is not on loopback (saved)',
  },
};

/** `serve`: the gateway in the foreground until SIGINT/SIGTERM, with the state dir's CA and revocations. */
export async function runServe({ values, service, out, err }: CommandContext): Promise<void> {
  const change: { -readonly [K in keyof GatewayConfig]?: GatewayConfig[K] } = {};
  if (typeof values.listen === 'string')
    change.listen = parseFlag('listen', listenAddressSchema, values.listen);
  if (typeof values.upstream === 'string')
    change.upstream = parseFlag('upstream', upstreamUrlSchema, values.upstream);
  if (typeof values['max-connections'] === 'string') {
    const text = values['max-connections'];
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 10_000) {
      throw usageError(`--max-connections: expected a whole number from 1 to 10000, got "${text}"`);
    }
    change.maxConnections = Number(text);
  }
  if (typeof values['max-connections-per-identity'] === 'string') {
    const text = values['max-connections-per-identity'];
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 10_000) {
      throw usageError(
        `--max-connections-per-identity: expected a whole number from 1 to 10000, got "${text}"`,
      );
    }
    change.maxConnectionsPerIdentity = Number(text);
  }
  if (values['allow-remote-upstream'] === true) change.allowRemoteUpstream = true;

  const config = { ...(await service.gatewayConfig()), ...change };
  const upstreamHost = new URL(config.upstream).hostname;
  if (!isLoopbackHost(upstreamHost) && !config.allowRemoteUpstream) {
    throw usageError(
      `--upstream ${config.upstream} is not on loopback; pass --allow-remote-upstream if that is really intended`,
    );
  }
  const listenHost = parseHostPort(config.listen)?.host ?? '';
  if (!isLoopbackHost(listenHost)) {
    err(`mtls-console: warning: listening on ${config.listen}, reachable from other hosts (not loopback)`);
  }
  // Refuse bad settings before saving them: nothing changes on disk for invalid input.
  if (Object.keys(change).length > 0) await service.configureGateway(change);

  const stop = () => void service.stopGateway();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const state = await service.startGateway();
    const listen = state.kind === 'running' ? state.listen : config.listen;
    out(
      `serving mTLS on ${listen} → ${config.upstream} (max ${config.maxConnections} connections); Ctrl-C to stop`,
    );
    const stopUpkeep = service.startUpkeep((message) => err(`mtls-console: ${message}`));
    await service.gatewayStopped();
    stopUpkeep();
    out('gateway stopped');
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
