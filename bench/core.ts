import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConsoleService, createVaultResolver } from '../src/main/service';
import { buildCrl, randomSerial } from '../src/main/pki';
import { atomicWriteFile } from '../src/main/store';
import { readCaCertPem, readMeta, readSealed } from '../src/main/service/state';
import { fmt, median, percentile, timeIt } from './stats';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const CLI = path.join(__dirname, '..', 'bin', 'mtls-console.cjs');

/** Core benchmarks (issue 2): issuance latency, CRL generation, registry listing. */
export async function benchCore(log: (line: string) => void): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mtls-bench-'));
  try {
    const vaults = createVaultResolver();
    const service = new ConsoleService({ stateDir: path.join(tmp, 'state'), vaults });
    await service.init({
      algorithm: 'ecdsa-p256',
      caName: 'Bench CA',
      hosts: ['localhost', '127.0.0.1'],
      serverDays: 90,
      vault: { backend: 'passphrase', passphrase: 'bench passphrase' },
    });

    for (const withP12 of [false, true]) {
      const samples: number[] = [];
      for (let i = 0; i < 40; i++) {
        const [, ms] = await timeIt(() =>
          service.issueClient({
            name: `bench-${withP12 ? 'p12' : 'pem'}-${i}`,
            durationMs: 86_400_000,
            outDir: path.join(tmp, 'out'),
            ...(withP12 ? { p12Password: 'bench-p12' } : {}),
          }),
        );
        samples.push(ms);
      }
      log(
        `issuance P-256 client + bundle${withP12 ? ' + .p12' : ''} (in-process, 40 runs): ` +
          `median ${fmt(median(samples))}, p90 ${fmt(percentile(samples, 90))}`,
      );
    }

    // The same through the CLI, as an operator runs it: process start, passphrase KDF (scrypt), issuance.
    const passFile = path.join(tmp, 'pass');
    await fs.writeFile(passFile, 'bench passphrase', { mode: 0o600 });
    const cliSamples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const args = ['--state-dir', service.paths.dir, '--passphrase-file', passFile, 'issue-client'];
      args.push('--name', `bench-cli-${i}`, '--out-dir', path.join(tmp, 'out'));
      cliSamples.push((await timeIt(() => execFileAsync(process.execPath, [CLI, ...args])))[1]);
    }
    log(
      `issuance through \`mtls-console issue-client\` (whole process, 10 runs): median ${fmt(median(cliSamples))}`,
    );

    const meta = await readMeta(service.paths);
    const caCertPem = await readCaCertPem(service.paths);
    const caKeyDer = await (await vaults.open('passphrase')).unseal(await readSealed(service.paths.caKey));
    for (const n of [1_000, 10_000, 100_000]) {
      const entries = Array.from({ length: n }, (_, i) => ({
        serial: randomSerial(),
        revokedAt: new Date(Date.UTC(2026, 0, 1) + i * 1000),
        reason: 'keyCompromise' as const,
      }));
      const runs = n >= 100_000 ? 3 : 5;
      const samples: number[] = [];
      let bytes = 0;
      for (let r = 0; r < runs; r++) {
        const [der, ms] = await timeIt(async () =>
          buildCrl({
            caCertPem,
            caPrivateKeyPkcs8Der: caKeyDer,
            algorithm: meta?.algorithm ?? 'ecdsa-p256',
            entries,
            crlNumber: BigInt(r + 2),
            thisUpdate: new Date(),
            nextUpdate: new Date(Date.now() + 7 * 86_400_000),
          }),
        );
        bytes = der.length;
        samples.push(ms);
      }
      log(
        `CRL generation at ${n.toLocaleString('en')} revoked serials: median ${fmt(median(samples))} (${(bytes / 1e6).toFixed(2)} MB DER, ${runs} runs)`,
      );
    }

    // A registry of 10,000 entries (synthetic rows: listing reads the registry and the revocation store).
    const now = Date.now();
    const certs = Array.from({ length: 10_000 }, (_, i) => ({
      serial: randomSerial(),
      name: `client-${i}`,
      notBefore: new Date(now - 3_600_000).toISOString(),
      notAfter: new Date(now + (i % 3 === 0 ? -1 : 1) * 86_400_000).toISOString(),
      fingerprintSha256: 'ab'.repeat(32),
      issuedAt: new Date(now - 3_600_000).toISOString(),
    }));
    await atomicWriteFile(service.paths.registry, JSON.stringify({ v: 1, certs }));
    const listSamples: number[] = [];
    for (let r = 0; r < 10; r++) listSamples.push((await timeIt(() => service.listClients()))[1]);
    log(`registry list at 10,000 certificates (in-process, 10 runs): median ${fmt(median(listSamples))}`);

    // A whole revocation (store write, CRL of 100,001 entries signed, audit) on top of 100,000 revoked serials.
    const revoked = Array.from({ length: 100_000 }, (_, i) => ({
      serial: randomSerial(),
      revokedAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      reason: 'superseded' as const,
    }));
    await atomicWriteFile(
      service.paths.revocations,
      JSON.stringify({ v: 1, crlNumber: '5', entries: revoked }),
    );
    const revokeSamples: number[] = [];
    for (let r = 0; r < 3; r++) {
      const serial = certs[r + 1]?.serial as string;
      revokeSamples.push((await timeIt(() => service.revoke({ serial, reason: 'keyCompromise' })))[1]);
    }
    log(
      `revoke with 100,000 already revoked (store + CRL + audit, 3 runs): median ${fmt(median(revokeSamples))}`,
    );
    await service.close();
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
