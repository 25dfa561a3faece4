import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConsoleService, createVaultResolver } from '../src/main/service';
import { buildCrl, randomSerial } from '../src/main/pki';
import { addSyntheticCertificates, sealedCaKey } from './synthetic';
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

    const caCertPem = await fs.readFile(service.paths.caCert, 'utf8');
    const caKeyDer = await (await vaults.open('passphrase')).unseal(sealedCaKey(service.paths.dir));
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
            algorithm: 'ecdsa-p256',
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

    // Years of use: 200,000 certificates, 100,000 of them revoked (synthetic rows in the same tables).
    const serials = addSyntheticCertificates(service.paths.dir, { certificates: 200_000, revoked: 100_000 });
    const listSamples: number[] = [];
    for (let r = 0; r < 5; r++) listSamples.push((await timeIt(() => service.listClients()))[1]);
    log(`list at 200,000 certificates (in-process, 5 runs): median ${fmt(median(listSamples))}`);

    const issueBig: number[] = [];
    for (let i = 0; i < 10; i++) {
      const name = `big-${i}`;
      issueBig.push(
        (
          await timeIt(() =>
            service.issueClient({ name, durationMs: 86_400_000, outDir: path.join(tmp, 'out') }),
          )
        )[1],
      );
    }
    log(`issuance with 200,000 certificates on file (in-process, 10 runs): median ${fmt(median(issueBig))}`);

    // A whole revocation (one transaction: revocation, CRL of 100,001 entries signed and stored, audit
    // records and a signed checkpoint) on top of 100,000 revocations; the CRL build is timed apart.
    const crlEntries = Array.from({ length: 100_001 }, (_, i) => ({
      serial: randomSerial(),
      revokedAt: new Date(Date.UTC(2026, 0, 1) + i * 1000),
      reason: 'superseded' as const,
    }));
    const crlOnly: number[] = [];
    for (let r = 0; r < 3; r++) {
      crlOnly.push(
        (
          await timeIt(async () =>
            buildCrl({
              caCertPem,
              caPrivateKeyPkcs8Der: caKeyDer,
              algorithm: 'ecdsa-p256',
              entries: crlEntries,
              crlNumber: 9n,
              thisUpdate: new Date(),
              nextUpdate: new Date(Date.now() + 7 * 86_400_000),
            }),
          )
        )[1],
      );
    }
    const revokeSamples: number[] = [];
    for (let r = 0; r < 5; r++) {
      const serial = serials[100_000 + r] as string;
      revokeSamples.push((await timeIt(() => service.revoke({ serial, reason: 'keyCompromise' })))[1]);
    }
    log(
      `revoke with 100,000 already revoked (one transaction + crl.pem, 5 runs): median ${fmt(median(revokeSamples))}; ` +
        `of which the 100,001-entry CRL build+sign ${fmt(median(crlOnly))}; the rest ${fmt(median(revokeSamples) - median(crlOnly))}`,
    );
    await service.close();
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
