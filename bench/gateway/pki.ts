import fs from 'node:fs/promises';
import path from 'node:path';
import {
  algorithmOfCert,
  exportPrivateKeyPkcs8Der,
  importPrivateKey,
  issueServerCert,
  privateKeyPem,
  randomSerial,
} from '../../src/main/pki';
import { PassphraseVault } from '../../src/main/vault';
import { addSyntheticCertificates, sealedCaKey } from '../synthetic';
import type { ClientCreds } from './probes';

/**
 * The benchmark's PKI, made with the product's own CLI: a CA, the load client and two clients to
 * revoke, 10,000 synthetic revocations in the CRL, and a plain-key server certificate for nginx from
 * the same CA (ours keeps its key sealed in the state dir).
 */

export interface Client {
  readonly serial: string;
  readonly files: { readonly cert: string; readonly key: string; readonly ca: string };
  readonly creds: ClientCreds;
}

export interface BenchPki {
  readonly algorithm: string;
  readonly load: Client;
  readonly victimOurs: Client;
  readonly victimNginx: Client;
  readonly nginx: { readonly cert: string; readonly key: string; readonly ca: string; readonly crl: string };
}

export const SYNTHETIC_REVOKED = 10_000;

export async function preparePki(opts: {
  cli: (...args: string[]) => Promise<string>;
  stateDir: string;
  dir: string;
  passphrase: string;
}): Promise<BenchPki> {
  const { cli, stateDir, dir } = opts;
  await cli('init', '--hosts', 'localhost,127.0.0.1');
  const issue = async (name: string): Promise<Client> => {
    const out = JSON.parse(
      await cli('issue-client', '--name', name, '--out-dir', path.join(dir, 'clients'), '--json'),
    ) as { serial: string; files: Client['files'] };
    const creds = {
      cert: await fs.readFile(out.files.cert),
      key: await fs.readFile(out.files.key),
      ca: await fs.readFile(out.files.ca),
    };
    return { serial: out.serial, files: out.files, creds };
  };
  const load = await issue('load');
  const victimOurs = await issue('revoked-on-ours');
  const victimNginx = await issue('revoked-on-nginx');

  const caCertPem = await fs.readFile(path.join(stateDir, 'ca.crt'), 'utf8');
  const algorithm = algorithmOfCert(caCertPem);
  const caKeyDer = await new PassphraseVault(opts.passphrase).unseal(sealedCaKey(stateDir));
  addSyntheticCertificates(stateDir, { certificates: SYNTHETIC_REVOKED, revoked: SYNTHETIC_REVOKED });
  // The product's own republish signs the CRL over the 10,000 synthetic entries.
  await cli('crl', '--refresh');

  const ngDir = path.join(dir, 'nginx');
  await fs.mkdir(ngDir, { recursive: true });
  const { cert, keys } = await issueServerCert({
    ca: { certPem: caCertPem, privateKey: await importPrivateKey(caKeyDer, algorithm) },
    algorithm,
    hosts: ['localhost', '127.0.0.1'],
    validityDays: 30,
    now: new Date(),
    serial: randomSerial(),
  });
  const ng = {
    cert: path.join(ngDir, 'server.crt'),
    key: path.join(ngDir, 'server.key'),
    ca: path.join(ngDir, 'ca.crt'),
    crl: path.join(ngDir, 'crl.pem'),
  };
  await fs.writeFile(ng.cert, cert.certPem);
  await fs.writeFile(ng.key, privateKeyPem(await exportPrivateKeyPkcs8Der(keys.privateKey)), {
    mode: 0o600,
  });
  await fs.writeFile(ng.ca, caCertPem);
  await cli('crl', '--out', ng.crl);
  return { algorithm, load, victimOurs, victimNginx, nginx: ng };
}
