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
import { stripHeaderNameSchema } from '../../shared/contract';
import { DEFAULT_DISTRIBUTION_LISTEN } from '../service/state';

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
  'strip-headers': {
    type: 'string',
    value: 'LIST',
    description:
      'request headers to strip besides the built-in identity list, comma-separated; NAME* strips a prefix; "" clears (saved)',
  },
  'client-cert-header': {
    type: 'string',
    value: 'on|off',
    description: 'also send the client certificate as RFC 9440 Client-Cert (saved)',
  },
  'xfcc-cert': {
    type: 'string',
    value: 'on|off',
    description: 'also put the client certificate into X-Forwarded-Client-Cert as Cert= (saved)',
  },
  'rewrite-origin': {
    type: 'string',
    value: 'on|off',
    description: "present a browser's Origin on the gateway's own address as the upstream's origin (saved)",
  },
  ...distributionOptions('distribution-', 'allow-remote-distribution'),
};

/** CRL and OCSP publication (issue 9); also what the `distribution` command takes, under shorter names. */
export function distributionOptions(prefix: string, allowFlag: string): Readonly<Record<string, OptionSpec>> {
  return {
    [`${prefix}url`]: {
      type: 'string',
      value: 'URL|off',
      description:
        'base URL named in certificates issued from now on: URL/crl (CRL distribution point) and URL/ocsp (AIA); off: none (saved)',
    },
    [`${prefix}listen`]: {
      type: 'string',
      value: 'HOST:PORT|off',
      description: `serve the CRL and OCSP there over plain HTTP, beside the gateway (default ${DEFAULT_DISTRIBUTION_LISTEN} once a URL is set; saved)`,
    },
    metrics: {
      type: 'string',
      value: 'on|off',
      description: `serve Prometheus metrics at /metrics on that listener (on ${DEFAULT_DISTRIBUTION_LISTEN} if none is set; default off; saved)`,
    },
    [allowFlag]: {
      type: 'boolean',
      description: `allow a --${prefix}listen address that is not on loopback (and --metrics on there)`,
    },
  };
}

/** The saved-settings change the distribution flags ask for; values are checked by the service. */
export function distributionChange(
  values: CommandContext['values'],
  prefix: string,
  allowFlag: string,
): { url?: string | null; listen?: string | null; metrics?: boolean } {
  const flag = (name: string): string | null | undefined => {
    const v = values[`${prefix}${name}`];
    if (typeof v !== 'string') return undefined;
    return v === 'off' ? null : v;
  };
  const url = flag('url');
  const listen = flag('listen');
  const host = listen ? parseHostPort(listen)?.host : undefined;
  // Like --upstream: reaching other hosts is the operator's explicit choice (the service checks it too).
  if (host !== undefined && !isLoopbackHost(host) && values[allowFlag] !== true) {
    throw usageError(
      `--${prefix}listen ${listen} is not on loopback; pass --${allowFlag} if that is really intended`,
    );
  }
  const metrics = typeof values.metrics === 'string' ? onOff('metrics', values.metrics) : undefined;
  return {
    ...(url !== undefined ? { url } : {}),
    ...(listen !== undefined ? { listen } : {}),
    ...(metrics !== undefined ? { metrics } : {}),
  };
}

function onOff(flag: string, text: string): boolean {
  if (text === 'on') return true;
  if (text === 'off') return false;
  throw usageError(`--${flag}: expected on or off, got "${text}"`);
}

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
  if (typeof values['strip-headers'] === 'string') {
    const names = values['strip-headers']
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    change.stripHeaders = names.map((n) => parseFlag('strip-headers', stripHeaderNameSchema, n));
  }
  if (typeof values['client-cert-header'] === 'string')
    change.clientCertHeader = onOff('client-cert-header', values['client-cert-header']);
  if (typeof values['xfcc-cert'] === 'string') change.xfccCert = onOff('xfcc-cert', values['xfcc-cert']);
  if (typeof values['rewrite-origin'] === 'string')
    change.rewriteOrigin = onOff('rewrite-origin', values['rewrite-origin']);

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
  // Refuse bad settings before saving them: nothing changes on disk for invalid input. The
  // distribution settings are checked (and saved) first, as the gateway's can no longer fail here.
  const distribution = distributionChange(values, 'distribution-', 'allow-remote-distribution');
  if (Object.keys(distribution).length > 0) {
    await service.configureDistribution(distribution, {
      allowRemoteListen: values['allow-remote-distribution'] === true,
    });
  }
  if (Object.keys(change).length > 0) await service.configureGateway(change);

  const stop = () => void service.stopGateway();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const state = await service.startGateway();
    const listen = state.kind === 'running' ? state.listen : config.listen;
    const published = service.distributionState();
    if (published.kind === 'running') {
      const metrics = service.metricsEnabled();
      if (!isLoopbackHost(parseHostPort(published.listen)?.host ?? '')) {
        err(
          `mtls-console: warning: CRL and OCSP${metrics ? ' and metrics' : ''} on ${published.listen}, reachable from other hosts (not loopback)`,
        );
      }
      out(
        `serving CRL and OCSP on http://${published.listen} (certificates name ${published.url ?? 'no URL: set --distribution-url'})`,
      );
      if (metrics) out(`serving metrics on http://${published.listen}/metrics`);
    }
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
