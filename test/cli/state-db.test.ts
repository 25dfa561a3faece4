import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, initCa, issue, makeEnv, openssl, removeEnv, snapshot, type Env } from '../helpers/cli';
import { SCHEMA_VERSION } from '../../src/main/db';
import type { AuditRow } from '../../src/main/audit/record';

const dbFile = (env: Env) => path.join(env.stateDir, 'state.db');

/** Opens the state database the way an attacker with the operator's file access would. */
function tamper<T>(env: Env, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(dbFile(env));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The documented line format (JSON Lines export), so a rewrite can recompute every hash. */
function line(r: Omit<AuditRow, 'hash'>): string {
  const actor =
    r.actor_kind === 'operator'
      ? { kind: 'operator', name: r.actor }
      : r.actor_kind === 'client'
        ? { kind: 'client', cn: r.actor, serial: r.actor_serial }
        : { kind: 'system' };
  return JSON.stringify({
    seq: r.seq,
    time: r.time,
    type: r.type,
    actor,
    cn: r.cn,
    serial: r.serial,
    details: JSON.parse(r.details) as unknown,
    prev: r.prev,
  });
}

async function verifyFails(env: Env, problem: RegExp): Promise<void> {
  const r = await cli(env, ['audit', '--verify']);
  expect(r.code, r.stdout).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(problem);
}

describe('the state database', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv('mtls-db-');
    await initCa(env);
  });
  afterAll(() => removeEnv(env));

  it('is one 0600 database in a 0700 dir, WAL mode, with derived exports beside it', async () => {
    expect(((await fs.stat(env.stateDir)).mode & 0o777).toString(8)).toBe('700');
    const names = (await fs.readdir(env.stateDir)).sort();
    expect(names.filter((n) => !n.startsWith('state.db'))).toEqual(['ca.crt', 'crl.pem', 'server.crt']);
    for (const n of names) {
      expect({ n, mode: ((await fs.stat(path.join(env.stateDir, n))).mode & 0o777).toString(8) }).toEqual({
        n,
        mode: '600',
      });
    }
    expect(tamper(env, (db) => db.prepare('PRAGMA journal_mode').get())).toEqual({ journal_mode: 'wal' });
  });

  it('heals a deleted crl.pem with the next command, with every revocation in it', async () => {
    const c = await issue(env, 'heal-me');
    expect((await cli(env, ['revoke', '--serial', c.serial])).code).toBe(0);
    await fs.rm(path.join(env.stateDir, 'crl.pem'));
    expect((await cli(env, ['list'])).code).toBe(0);
    const text = await openssl(['crl', '-in', path.join(env.stateDir, 'crl.pem'), '-noout', '-text']);
    expect(text.stdout.toLowerCase()).toContain(c.serial.toLowerCase());
  });

  it('refuses an export folder that is a symlink into the state dir, writing nothing there', async () => {
    const link = path.join(env.tmp, 'sneaky');
    await fs.symlink(env.stateDir, link);
    const before = await snapshot(env.stateDir);
    const r = await cli(env, ['issue-client', '--name', 'sneaky', '--out-dir', link]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/outside the state dir/);
    expect(await snapshot(env.stateDir)).toEqual(before);
  });

  it('--force replaces a planted symlink, never the state file it points at', async () => {
    const dir = path.join(env.tmp, 'planted');
    await fs.mkdir(dir);
    await fs.symlink(dbFile(env), path.join(dir, 'planted.key'));
    const before = await fs.readFile(dbFile(env));
    const r = await cli(env, ['issue-client', '--name', 'planted', '--out-dir', dir, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect((await fs.lstat(path.join(dir, 'planted.key'))).isSymbolicLink()).toBe(false);
    expect(await fs.readFile(path.join(dir, 'planted.key'), 'utf8')).toMatch(/PRIVATE KEY/);
    expect((await fs.readFile(dbFile(env))).subarray(0, 16)).toEqual(before.subarray(0, 16));
    expect((await cli(env, ['audit', '--verify'])).code).toBe(0);
  });

  it('refuses any export that would land inside the state dir, the database itself included', async () => {
    const before = await snapshot(env.stateDir);
    const link = path.join(env.tmp, 'db-link');
    await fs.symlink(env.stateDir, link);
    const attempts = [
      ['audit', '--out', dbFile(env)],
      ['audit', '--out', path.join(link, 'state.db')],
      ['crl', '--out', path.join(env.stateDir, 'state.db')],
      ['crl', '--out', path.join(link, 'x.crl')],
      ['audit', 'archive', '--before', '2100-01-01', '--out', path.join(env.stateDir, 'old.jsonl.gz')],
    ];
    for (const args of attempts) {
      const r = await cli(env, args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(/inside the state dir/);
    }
    expect(await snapshot(env.stateDir)).toEqual(before);
    expect((await cli(env, ['audit', '--verify'])).code).toBe(0);
  });

  it('records nothing and leaves no file when the bundle cannot be staged', async () => {
    const blocker = path.join(env.tmp, 'a-file');
    await fs.writeFile(blocker, 'x');
    const count = async () => (JSON.parse((await cli(env, ['list', '--json'])).stdout) as unknown[]).length;
    const n = await count();
    const r = await cli(env, ['issue-client', '--name', 'nowhere', '--out-dir', path.join(blocker, 'sub')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(path.join(blocker, 'sub'));
    expect(await count()).toBe(n);
  });

  it('carries the CN and serial on operator records: one query finds all that happened to a serial', async () => {
    const c = await issue(env, 'history');
    expect((await cli(env, ['revoke', '--serial', c.serial, '--reason', 'superseded'])).code).toBe(0);
    const page = JSON.parse((await cli(env, ['audit', '--serial', c.serial, '--json'])).stdout) as {
      records: { type: string; cn: string }[];
      total: number;
    };
    expect(page.records.map((r) => r.type).reverse()).toEqual(['client.issued', 'client.revoked']);
    expect(page.records.every((r) => r.cn === 'history')).toBe(true);
    const bad = await cli(env, ['audit', '--from', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from/);
  });

  it('exports a filtered audit log to a file that matches the verified lines', async () => {
    const file = path.join(env.tmp, 'issued.jsonl');
    const r = await cli(env, ['audit', '--type', 'client.issued', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    const lines = (await fs.readFile(file, 'utf8')).trim().split('\n');
    expect(r.stderr).toContain(`exported ${lines.length} records`);
    const rows = tamper(env, (db) =>
      db.prepare("SELECT hash FROM audit WHERE type = 'client.issued' ORDER BY seq").all(),
    ) as { hash: string }[];
    expect(lines.map(sha256)).toEqual(rows.map((x) => x.hash));
  });
});

describe('refusing instead of starting over', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv('mtls-db-');
  });
  afterAll(() => removeEnv(env));

  it('init refuses a passphrase under 12 characters and a passphrase file others can read, creating nothing', async () => {
    await fs.writeFile(env.passphraseFile, 'short-pass1\n', { mode: 0o600 });
    const short = await cli(env, ['init', '--hosts', 'localhost']);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 12 characters/);
    await fs.writeFile(env.passphraseFile, 'correct horse battery staple\n');
    await fs.chmod(env.passphraseFile, 0o644);
    const open = await cli(env, ['init', '--hosts', 'localhost']);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/readable by group or others.*chmod 600/);
    await expect(fs.stat(env.stateDir)).rejects.toThrow();
    await fs.chmod(env.passphraseFile, 0o600);
  });

  it('of two inits at once exactly one creates the CA', async () => {
    const twin = await makeEnv('mtls-db-twin-');
    try {
      const [a, b] = await Promise.all([
        cli(twin, ['init', '--hosts', 'localhost']),
        cli(twin, ['init', '--hosts', 'localhost']),
      ]);
      expect([a.code, b.code].sort()).toEqual([0, 1]);
      expect((a.code === 1 ? a : b).stderr).toMatch(/already exists/);
      expect((await cli(twin, ['audit', '--verify'])).code).toBe(0);
    } finally {
      await removeEnv(twin);
    }
  });

  it('serve on an uninitialized or mistyped state dir fails without creating or changing anything', async () => {
    const r = await cli(env, ['serve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no CA in/);
    await expect(fs.stat(env.stateDir)).rejects.toThrow();
    const loose = path.join(env.tmp, 'loose');
    await fs.mkdir(loose, { mode: 0o755 });
    await fs.chmod(loose, 0o755);
    const s = await cli(env, ['--state-dir', loose, 'serve']);
    expect(s.code).toBe(1);
    expect(await fs.readdir(loose)).toEqual([]);
    expect(((await fs.stat(loose)).mode & 0o777).toString(8)).toBe('755');
  });

  it('a missing, corrupt or newer database is an error naming the file, never a new CA', async () => {
    await initCa(env);
    const db = dbFile(env);
    const saved = await fs.readFile(db);
    await fs.rm(db);
    for (const args of [['list'], ['init', '--hosts', 'localhost']]) {
      const r = await cli(env, args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/state\.db|earlier CA/);
    }
    await expect(fs.stat(db)).rejects.toThrow();

    await fs.writeFile(db, Buffer.alloc(8192, 0x41), { mode: 0o600 });
    const corrupt = await cli(env, ['status']);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain(db);
    expect(corrupt.stderr).toMatch(/corrupt|not a database/);

    await fs.writeFile(db, saved, { mode: 0o600 });
    // A row that does not fit its table is named, not used.
    const c = await issue(env, 'odd-row');
    expect((await cli(env, ['revoke', '--serial', c.serial])).code).toBe(0);
    tamper(env, (d) => d.prepare("UPDATE revocations SET reason = 'because' WHERE serial = ?").run(c.serial));
    for (const args of [['list'], ['crl', '--refresh']]) {
      const r = await cli(env, args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toMatch(/table (revocations|certificates) is corrupt \(reason/);
    }
    tamper(env, (d) =>
      d.prepare("UPDATE revocations SET reason = 'unspecified' WHERE serial = ?").run(c.serial),
    );
    tamper(env, (d) => d.exec('PRAGMA user_version = 99'));
    const newer = await cli(env, ['list']);
    expect(newer.code).toBe(1);
    expect(newer.stderr).toMatch(/schema version 99, newer than this mtls-console/);
    tamper(env, (d) => d.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`));
    expect((await cli(env, ['list'])).code).toBe(0);
  });

  it('refuses a state dir that belongs to another user', async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip('needs root to chown the state dir');
    const other = await makeEnv('mtls-db-other-');
    try {
      await initCa(other);
      await fs.chown(other.stateDir, 65534, 65534);
      const r = await cli(other, ['list']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/belongs to another user/);
    } finally {
      await removeEnv(other);
    }
  });
});

describe('a tampered audit log stays detected, whatever runs after', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv('mtls-tamper-');
    await initCa(env);
    for (let i = 0; i < 3; i++) await issue(env, `t-${i}`);
  });
  afterAll(() => removeEnv(env));

  const fresh = async () => {
    const copy = await makeEnv('mtls-tamper-copy-');
    await fs.cp(env.stateDir, copy.stateDir, { recursive: true });
    await fs.copyFile(env.passphraseFile, copy.passphraseFile);
    return copy;
  };

  it('verifies when untouched, reporting the newest signed checkpoint', async () => {
    const r = await cli(env, ['audit', '--verify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/chain intact, \d+ records, last signed checkpoint at seq \d+/);
  });

  it('cutting the tail is still detected after later commands', async () => {
    const e = await fresh();
    try {
      tamper(e, (db) => db.exec('DELETE FROM audit WHERE seq > (SELECT max(seq) - 3 FROM audit)'));
      expect(
        (await cli(e, ['issue-client', '--name', 'after-cut', '--out-dir', path.join(e.tmp, 'o')])).code,
      ).toBe(0);
      expect((await cli(e, ['list'])).code).toBe(0);
      await verifyFails(e, /missing|removed/);
    } finally {
      await removeEnv(e);
    }
  });

  it('cutting the tail and rewinding the head to match is caught by the certificates', async () => {
    const e = await fresh();
    try {
      tamper(e, (db) => {
        const cut = db.prepare("SELECT max(seq) AS s FROM audit WHERE type = 'client.issued'").get() as {
          s: number;
        };
        db.exec(`DELETE FROM audit WHERE seq >= ${cut.s}`);
        db.exec(
          'UPDATE audit_head SET seq = (SELECT max(seq) FROM audit), hash = (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1)',
        );
      });
      await verifyFails(e, /client\.issued|missing/);
    } finally {
      await removeEnv(e);
    }
  });

  it('deleting a record in the middle is detected', async () => {
    const e = await fresh();
    try {
      tamper(e, (db) => db.exec('DELETE FROM audit WHERE seq = 3'));
      await verifyFails(e, /seq 3|missing/);
    } finally {
      await removeEnv(e);
    }
  });

  it('rewriting the whole table consistently fails on the checkpoint signatures', async () => {
    const e = await fresh();
    try {
      tamper(e, (db) => {
        const rows = db.prepare('SELECT * FROM audit ORDER BY seq').all() as unknown as AuditRow[];
        let prev = '0'.repeat(64);
        const update = db.prepare('UPDATE audit SET details = ?, prev = ?, hash = ? WHERE seq = ?');
        for (const r of rows) {
          const details = r.type === 'client.issued' ? JSON.stringify({ forged: true }) : r.details;
          const hash = sha256(line({ ...r, details, prev }));
          update.run(details, prev, hash, r.seq);
          prev = hash;
        }
        db.prepare('UPDATE audit_head SET hash = ?').run(prev);
      });
      await verifyFails(e, /checkpoint|signature/);
      // An operator action afterwards signs nothing over the forged chain.
      expect(
        (await cli(e, ['issue-client', '--name', 'after-forge', '--out-dir', path.join(e.tmp, 'o')])).code,
      ).toBe(0);
      await verifyFails(e, /checkpoint|signature/);
    } finally {
      await removeEnv(e);
    }
  });
});
