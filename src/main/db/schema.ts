import type { DatabaseSync } from 'node:sqlite';
import { AUDIT_SCHEMA_SQL } from '../audit';

/**
 * The state schema, versioned with PRAGMA user_version. Migrations run forward only, each inside the
 * transaction that opens the database; a database newer than this code is refused, never rewritten.
 */
const MIGRATIONS: readonly string[] = [
  // v1
  `
  CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    algorithm TEXT NOT NULL,
    vault_backend TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ca_name TEXT NOT NULL,
    server_hosts TEXT NOT NULL,
    server_days INTEGER NOT NULL
  );
  CREATE TABLE ca (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cert_pem TEXT NOT NULL,
    sealed_key BLOB NOT NULL
  );
  CREATE TABLE server_certs (
    serial TEXT PRIMARY KEY,
    cert_pem TEXT NOT NULL,
    sealed_key BLOB NOT NULL,
    not_after TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    current INTEGER NOT NULL DEFAULT 0
  );
  CREATE UNIQUE INDEX server_certs_current ON server_certs (current) WHERE current = 1;
  CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    audit_seq INTEGER NOT NULL
  );
  CREATE INDEX certificates_name ON certificates (name);
  CREATE TABLE revocations (
    serial TEXT PRIMARY KEY REFERENCES certificates (serial),
    revoked_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    audit_seq INTEGER NOT NULL
  );
  CREATE TABLE crl (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    number INTEGER NOT NULL,
    this_update TEXT NOT NULL,
    next_update TEXT NOT NULL,
    entries INTEGER NOT NULL,
    der BLOB NOT NULL
  );
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  -- A bundle being written: recorded before its files are staged, marked committed with its
  -- certificate, removed once the files are in place. What a killed process leaves is finished or
  -- undone by the next operation.
  CREATE TABLE pending_bundles (
    serial TEXT PRIMARY KEY,
    files TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL,
    committed INTEGER NOT NULL DEFAULT 0
  );
  ${AUDIT_SCHEMA_SQL}
  `,
  // v2 (issue 9): what renewal needs per certificate. The certificate itself (its key is what a
  // renewal without a CSR certifies again), its groups (OUs), the renewal policy set at issuance and
  // the links of a renewal chain. Rows from v1 keep NULLs: no PEM (their renewal needs a CSR), groups
  // from their issuance record, renewable, and a chain limit counted from their issuance.
  `
  ALTER TABLE certificates ADD COLUMN cert_pem TEXT;
  ALTER TABLE certificates ADD COLUMN groups TEXT;
  ALTER TABLE certificates ADD COLUMN renewable INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE certificates ADD COLUMN renew_until TEXT;
  ALTER TABLE certificates ADD COLUMN supersedes TEXT;
  ALTER TABLE certificates ADD COLUMN superseded_by TEXT;
  `,
  // v3 (issue 9): staged CA rollover. Several CAs (the v1 row becomes CA 1), cross certificates
  // between them, the rollovers themselves, and every certificate, revocation and CRL keyed by its
  // issuing CA. Serials stay unique across our CAs (the primary keys), so a serial alone still finds
  // one certificate; the issuer says which CRL and which OCSP signer answer for it.
  `
  CREATE TABLE cas (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    sealed_key BLOB NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
  );
  INSERT INTO cas (id, name, cert_pem, sealed_key, created_at)
    SELECT 1, m.ca_name, c.cert_pem, c.sealed_key, m.created_at FROM ca c, meta m WHERE c.id = 1;
  DROP TABLE ca;
  CREATE TABLE ca_cross_certs (
    subject_ca INTEGER NOT NULL REFERENCES cas (id),
    issuer_ca INTEGER NOT NULL REFERENCES cas (id),
    serial TEXT NOT NULL UNIQUE,
    cert_pem TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (subject_ca, issuer_ca)
  );
  CREATE TABLE ca_rollovers (
    id INTEGER PRIMARY KEY,
    old_ca INTEGER NOT NULL REFERENCES cas (id),
    new_ca INTEGER NOT NULL UNIQUE REFERENCES cas (id),
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL,
    servers_rolled_at TEXT,
    retired_at TEXT,
    retired_by TEXT
  );
  -- SQLite refuses a REFERENCES column with a non-NULL default in ALTER TABLE; the code keeps them right.
  ALTER TABLE certificates ADD COLUMN issuer_ca INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE revocations ADD COLUMN issuer_ca INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE server_certs ADD COLUMN issuer_ca INTEGER NOT NULL DEFAULT 1;
  CREATE INDEX certificates_issuer ON certificates (issuer_ca);
  CREATE INDEX revocations_issuer ON revocations (issuer_ca);
  CREATE TABLE ca_crls (
    ca_id INTEGER PRIMARY KEY REFERENCES cas (id),
    number INTEGER NOT NULL,
    this_update TEXT NOT NULL,
    next_update TEXT NOT NULL,
    entries INTEGER NOT NULL,
    der BLOB NOT NULL
  );
  INSERT INTO ca_crls (ca_id, number, this_update, next_update, entries, der)
    SELECT 1, number, this_update, next_update, entries, der FROM crl WHERE id = 1;
  DROP TABLE crl;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings a database at `from` up to SCHEMA_VERSION; the caller holds the write transaction. */
export function migrate(db: DatabaseSync, from: number): void {
  for (let v = from; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
}
