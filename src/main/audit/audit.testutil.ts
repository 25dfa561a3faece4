import { createPrivateKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Algorithm } from '../../shared/validation';
import { createCa, exportPrivateKeyPkcs8Der, randomSerial } from '../pki';
import { settleHashes } from './own-hashes';
import { AUDIT_SCHEMA_SQL } from './schema';
import { createAuditSigner, type AuditSigner } from './signing';

export interface TestCa {
  readonly certPem: string;
  readonly signer: AuditSigner;
}

export async function makeCa(algorithm: Algorithm = 'ecdsa-p256', name = 'Audit Test CA'): Promise<TestCa> {
  const { cert, keys } = await createCa({
    algorithm,
    commonName: name,
    now: new Date(),
    serial: randomSerial(),
  });
  const key = createPrivateKey({
    key: await exportPrivateKeyPkcs8Der(keys.privateKey),
    format: 'der',
    type: 'pkcs8',
  });
  return { certPem: cert.certPem, signer: createAuditSigner(key, cert.certPem) };
}

export interface TestDb {
  readonly db: DatabaseSync;
  readonly dir: string;
  close(): Promise<void>;
}

/** A database as the app opens it (WAL), with only the audit tables. */
export async function openTestDb(): Promise<TestDb> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mtls-audit-'));
  const db = new DatabaseSync(path.join(dir, 'state.db'));
  db.exec('PRAGMA journal_mode=WAL');
  db.exec(AUDIT_SCHEMA_SQL);
  return {
    db,
    dir,
    close: async () => {
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A write transaction, as the service wraps each operation (StateDb.tx). */
export function tx<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const v = fn();
    db.exec('COMMIT');
    settleHashes(db, true);
    return v;
  } catch (e) {
    db.exec('ROLLBACK');
    settleHashes(db, false);
    throw e;
  }
}
