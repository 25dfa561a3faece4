import { ConsoleError } from '../errors';
import { readFileIfExists, readJsonFile } from '../store';
import type { StatePaths } from './paths';
import {
  gatewayConfigSchema,
  metaSchema,
  registrySchema,
  revocationsSchema,
  serverFileSchema,
  type Meta,
  type Registry,
  type Revocations,
  type ServerFile,
} from './state-schemas';
import { DEFAULT_GATEWAY_CONFIG, type GatewayConfig } from '../../shared/model';

/** Readers for the state dir. Each validates what it reads; a missing CA is NOT_INITIALIZED. */

export async function readMeta(paths: StatePaths): Promise<Meta | null> {
  return readJsonFile(paths.meta, metaSchema);
}

export async function requireMeta(paths: StatePaths): Promise<Meta> {
  const meta = await readMeta(paths);
  if (!meta) {
    throw new ConsoleError(
      'NOT_INITIALIZED',
      `no CA in ${paths.dir}; run \`mtls-console init --hosts …\` first`,
    );
  }
  return meta;
}

export async function readCaCertPem(paths: StatePaths): Promise<string> {
  const pem = await readFileIfExists(paths.caCert);
  if (!pem) throw new ConsoleError('CORRUPT_STATE', `state file ${paths.caCert} is missing`);
  const text = pem.toString('utf8');
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConsoleError('CORRUPT_STATE', `state file ${paths.caCert} is corrupt: not a PEM certificate`);
  }
  return text;
}

export async function readSealed(path: string): Promise<Buffer> {
  const sealed = await readFileIfExists(path);
  if (!sealed) throw new ConsoleError('CORRUPT_STATE', `state file ${path} is missing`);
  return sealed;
}

export async function readServerFile(paths: StatePaths): Promise<ServerFile> {
  const server = await readJsonFile(paths.server, serverFileSchema);
  if (!server) throw new ConsoleError('CORRUPT_STATE', `state file ${paths.server} is missing`);
  return server;
}

export async function readRegistry(paths: StatePaths): Promise<Registry> {
  return (await readJsonFile(paths.registry, registrySchema)) ?? { v: 1, certs: [] };
}

export async function readRevocations(paths: StatePaths): Promise<Revocations> {
  return (await readJsonFile(paths.revocations, revocationsSchema)) ?? { v: 1, crlNumber: '0', entries: [] };
}

export async function readGatewayConfig(paths: StatePaths): Promise<GatewayConfig> {
  const stored = await readJsonFile(paths.gateway, gatewayConfigSchema.partial());
  return { ...DEFAULT_GATEWAY_CONFIG, ...stored };
}
