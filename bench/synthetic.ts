import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { randomSerial } from '../src/main/pki';

/**
 * Fills a state database with synthetic certificates (and revocations of the first `revoked` of them)
 * in one transaction, the way years of use would. Benchmarks only: the rows point at no audit record.
 */
export function addSyntheticCertificates(
  stateDir: string,
  opts: { certificates: number; revoked: number },
): string[] {
  const db = new DatabaseSync(path.join(stateDir, 'state.db'), { timeout: 15_000 });
  const serials: string[] = [];
  try {
    db.exec('BEGIN IMMEDIATE');
    const cert = db.prepare(
      'INSERT INTO certificates (serial, name, not_before, not_after, fingerprint_sha256, issued_at, audit_seq) VALUES (?, ?, ?, ?, ?, ?, 0)',
    );
    const rev = db.prepare(
      "INSERT INTO revocations (serial, revoked_at, reason, audit_seq) VALUES (?, ?, 'superseded', 0)",
    );
    const now = Date.now();
    for (let i = 0; i < opts.certificates; i++) {
      const serial = randomSerial();
      serials.push(serial);
      const t = new Date(now - 3_600_000).toISOString();
      cert.run(
        serial,
        `client-${i}`,
        t,
        new Date(now + (i % 3 === 0 ? -1 : 1) * 86_400_000).toISOString(),
        'ab'.repeat(32),
        t,
      );
      if (i < opts.revoked)
        rev.run(serial, new Date(Math.floor((now - 86_400_000 + i * 10) / 1000) * 1000).toISOString());
    }
    db.exec('COMMIT');
  } finally {
    db.close();
  }
  return serials;
}

/** The CA's sealed key as stored, for benchmarks that sign with it directly. */
export function sealedCaKey(stateDir: string): Buffer {
  const db = new DatabaseSync(path.join(stateDir, 'state.db'), { readOnly: true });
  try {
    const row = db.prepare('SELECT sealed_key FROM cas WHERE id = 1').get() as { sealed_key: Uint8Array };
    return Buffer.from(row.sealed_key);
  } finally {
    db.close();
  }
}
