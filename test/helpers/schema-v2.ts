import type { DatabaseSync } from 'node:sqlite';

/**
 * Turns a database of this version back into what schema v2 had (one CA in `ca`, one CRL in `crl`,
 * no issuer columns), with its rows, so the tests can check the forward migration on real data. Only
 * for a database that never rolled over (one CA).
 */
export function downgradeToV2(db: DatabaseSync): void {
  db.exec(`
    PRAGMA foreign_keys = OFF;
    CREATE TABLE ca (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      cert_pem TEXT NOT NULL,
      sealed_key BLOB NOT NULL
    );
    INSERT INTO ca (id, cert_pem, sealed_key) SELECT id, cert_pem, sealed_key FROM cas WHERE id = 1;
    CREATE TABLE crl (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      number INTEGER NOT NULL,
      this_update TEXT NOT NULL,
      next_update TEXT NOT NULL,
      entries INTEGER NOT NULL,
      der BLOB NOT NULL
    );
    INSERT INTO crl (id, number, this_update, next_update, entries, der)
      SELECT 1, number, this_update, next_update, entries, der FROM ca_crls WHERE ca_id = 1;
    DROP TABLE ca_crls;
    DROP TABLE ca_rollovers;
    DROP TABLE ca_cross_certs;
    DROP INDEX certificates_issuer;
    DROP INDEX revocations_issuer;
    ALTER TABLE certificates DROP COLUMN issuer_ca;
    ALTER TABLE revocations DROP COLUMN issuer_ca;
    ALTER TABLE server_certs DROP COLUMN issuer_ca;
    DROP TABLE cas;
    PRAGMA foreign_keys = ON;
    PRAGMA user_version = 2;
  `);
}
