import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  initCa,
  issue,
  makeEnv,
  openssl,
  removeEnv,
  snapshot,
  type Env,
  type IssueJson,
} from '../helpers/cli';

const BACKUP_PASSPHRASE = 'a backup passphrase of its own';

interface AuditJson {
  records: { type: string; details: Record<string, unknown> }[];
}

describe('backup-ca and restore-ca (DESIGN.md §6)', () => {
  let env: Env;
  let alice: IssueJson;
  let backup: string;
  let backupPass: string;
  beforeAll(async () => {
    env = await makeEnv('mtls-backup-');
    await initCa(env, ['--ca-name', 'Backup Root CA']);
    alice = await issue(env, 'alice', ['--out-dir', path.join(env.tmp, 'alice')]);
    backup = path.join(env.tmp, 'vault', 'ca-backup.pem');
    backupPass = path.join(env.tmp, 'backup-pass');
    await fs.writeFile(backupPass, `${BACKUP_PASSPHRASE}\n`, { mode: 0o600 });
  });
  afterAll(() => removeEnv(env));

  it('writes an encrypted PKCS#8 that openssl opens with the backup passphrase, and the CA certificate', async () => {
    const r = await cli(env, ['backup-ca', '--out', backup, '--backup-passphrase-file', backupPass]);
    expect(r.code, r.stderr).toBe(0);
    expect(((await fs.stat(backup)).mode & 0o777).toString(8)).toBe('600');
    const text = await fs.readFile(backup, 'utf8');
    expect(text).not.toContain('BEGIN PRIVATE KEY');

    const info = await openssl(['asn1parse', '-in', backup]);
    expect(info.stdout).toMatch(/PBES2/);
    expect(info.stdout).toMatch(/PBKDF2/);
    expect(info.stdout).toMatch(/hmacWithSHA256/);
    expect(info.stdout).toMatch(/aes-256-cbc/);

    const opened = await openssl(['pkcs8', '-in', backup, '-passin', `file:${backupPass}`]);
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const wrong = await openssl(['pkcs8', '-in', backup, '-passin', 'pass:not the passphrase']);
    expect(wrong.code).not.toBe(0);

    // The key is the CA's: its public half is the one in ca.crt, and the backup's certificate is ca.crt.
    const keyFile = path.join(env.tmp, 'opened.key');
    await fs.writeFile(keyFile, opened.stdout, { mode: 0o600 });
    const fromKey = await openssl(['pkey', '-in', keyFile, '-pubout']);
    const fromCa = await openssl(['x509', '-in', alice.files.ca, '-noout', '-pubkey']);
    expect(fromKey.stdout).toBe(fromCa.stdout);
    await fs.rm(keyFile);
    const cert = await openssl(['x509', '-in', backup, '-noout', '-fingerprint', '-sha256']);
    const caCert = await openssl(['x509', '-in', alice.files.ca, '-noout', '-fingerprint', '-sha256']);
    expect(cert.stdout).toBe(caCert.stdout);

    const log = JSON.parse((await cli(env, ['audit', '--json', '--type', 'ca.backup'])).stdout) as AuditJson;
    expect(log.records).toHaveLength(1);
    expect(log.records[0]?.details['file']).toBe(backup);
  });

  const refusals: [string, () => Promise<string[]>, RegExp][] = [
    [
      'a short backup passphrase',
      async () => {
        const short = path.join(env.tmp, 'short-pass');
        await fs.writeFile(short, 'too short\n', { mode: 0o600 });
        return ['backup-ca', '--out', path.join(env.tmp, 'b1.pem'), '--backup-passphrase-file', short];
      },
      /at least 12 characters/,
    ],
    [
      'a passphrase file others can read',
      async () => {
        const open = path.join(env.tmp, 'open-pass');
        await fs.writeFile(open, `${BACKUP_PASSPHRASE}\n`, { mode: 0o644 });
        await fs.chmod(open, 0o644);
        return ['backup-ca', '--out', path.join(env.tmp, 'b2.pem'), '--backup-passphrase-file', open];
      },
      /readable by group or others/,
    ],
    [
      'a backup file inside the state dir',
      async () => [
        'backup-ca',
        '--out',
        path.join(env.stateDir, 'b.pem'),
        '--backup-passphrase-file',
        backupPass,
      ],
      /inside the state dir/,
    ],
    [
      'no backup passphrase and no terminal',
      async () => ['backup-ca', '--out', path.join(env.tmp, 'b3.pem')],
      /--backup-passphrase-file/,
    ],
  ];

  it.each(refusals)('backup-ca refuses %s with one line, changing nothing', async (_label, args, message) => {
    const argv = await args();
    const before = await snapshot(env.tmp);
    const r = await cli(env, argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(await snapshot(env.tmp)).toEqual(before);
  });

  it('never overwrites an existing backup', async () => {
    const before = await snapshot(env.tmp);
    const r = await cli(env, ['backup-ca', '--out', backup, '--backup-passphrase-file', backupPass]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`mtls-console: refusing to overwrite ${backup}`);
    expect(await snapshot(env.tmp)).toEqual(before);
  });

  it('restores into a new state dir: new server certificate, audit verifies, issuing works, old clients verify', async () => {
    const restored: Env = {
      tmp: env.tmp,
      stateDir: path.join(env.tmp, 'restored-state'),
      passphraseFile: path.join(env.tmp, 'new-passphrase'),
    };
    await fs.writeFile(restored.passphraseFile, 'the new state dir passphrase\n', { mode: 0o600 });

    const wrong = path.join(env.tmp, 'wrong-pass');
    await fs.writeFile(wrong, 'not the backup passphrase\n', { mode: 0o600 });
    const before = await snapshot(env.tmp);
    const refused = await cli(restored, [
      'restore-ca',
      '--in',
      backup,
      '--hosts',
      'gw.example',
      '--backup-passphrase-file',
      wrong,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `mtls-console: ${backup}: wrong backup passphrase (or a damaged backup)`,
    );
    expect(await snapshot(env.tmp)).toEqual(before);

    const r = await cli(restored, [
      'restore-ca',
      '--in',
      backup,
      '--hosts',
      'gw.example,127.0.0.1',
      '--backup-passphrase-file',
      backupPass,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as {
      ca: { subject: string };
      server: { sans: string[]; serial: string };
    };
    expect(status.ca.subject).toBe('CN=Backup Root CA');
    expect(status.server.sans).toEqual(['gw.example', '127.0.0.1']);

    expect((await fs.stat(restored.stateDir)).mode & 0o777).toBe(0o700);
    expect(await fs.readFile(path.join(restored.stateDir, 'ca.crt'), 'utf8')).toBe(
      await fs.readFile(alice.files.ca, 'utf8'),
    );
    // Sealed under the new state dir's passphrase: the old one does not open it.
    const withOldPassphrase = await cli({ ...restored, passphraseFile: env.passphraseFile }, [
      'rotate-server',
    ]);
    expect(withOldPassphrase.code).toBe(1);

    const verified = await cli(restored, ['audit', '--verify']);
    expect(verified.code, verified.stderr).toBe(0);
    const log = JSON.parse((await cli(restored, ['audit', '--json'])).stdout) as AuditJson;
    expect(log.records.map((x) => x.type)).toContain('ca.restored');

    const carol = await issue(restored, 'carol', ['--out-dir', path.join(env.tmp, 'carol')]);
    for (const cert of [carol.files.cert, alice.files.cert]) {
      const v = await openssl([
        'verify',
        '-purpose',
        'sslclient',
        '-CAfile',
        path.join(restored.stateDir, 'ca.crt'),
        cert,
      ]);
      expect(v.stdout.trim()).toBe(`${cert}: OK`);
    }
    // Certificates from the original and the restored state dir chain to the same CA.
    const crossCheck = await openssl(['verify', '-CAfile', alice.files.ca, carol.files.cert]);
    expect(crossCheck.stdout).toContain(': OK');
    const server = await openssl([
      'verify',
      '-purpose',
      'sslserver',
      '-CAfile',
      alice.files.ca,
      path.join(restored.stateDir, 'server.crt'),
    ]);
    expect(server.stdout).toContain(': OK');

    // A second restore into the same dir is refused.
    const again = await cli(restored, [
      'restore-ca',
      '--in',
      backup,
      '--hosts',
      'gw.example',
      '--backup-passphrase-file',
      backupPass,
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/a CA already exists/);
  });
});
