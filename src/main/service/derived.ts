import fs from 'node:fs/promises';
import { atomicWriteFile } from '../store';
import { crlDerToPem } from '../pki';
import type { StateDb } from '../db';
import type { DerivedPaths } from './paths';
import { readGatewayTrust } from './rollover';
import { readCa, readCrl } from './state';

/**
 * Rewrites ca.crt, server.crt and crl.pem from the database where they are missing or differ. Every
 * command calls it after its commit, so an export lost to a crash or a full disk heals by itself.
 */
export async function syncDerivedFiles(state: StateDb, paths: DerivedPaths): Promise<void> {
  const { ca, server, crl } = state.read(() => ({
    ca: readCa(state.db).certPem,
    // With the cross certificate while a CA rollover runs: what the gateway serves.
    server: readGatewayTrust(state.db).certPem,
    crl: crlDerToPem(readCrl(state.db).der),
  }));
  await writeIfChanged(paths.caCert, ca);
  await writeIfChanged(paths.serverCert, server);
  await writeIfChanged(paths.crl, crl);
}

async function writeIfChanged(file: string, text: string): Promise<void> {
  const current = await fs.readFile(file, 'utf8').catch(() => null);
  if (current !== text) await atomicWriteFile(file, text, 0o600);
}
