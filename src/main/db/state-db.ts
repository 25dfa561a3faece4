import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { settleHashes } from '../audit/own-hashes';
import { ConsoleError } from '../errors';
import { migrate, SCHEMA_VERSION } from './schema';

/** The one database of a state dir (DESIGN.md §5); everything else in the dir is derived from it. */
export const DB_FILE = 'state.db';
const IS_POSIX = process.platform !== 'win32';
/** How long a writer waits for another process's transaction before giving up with a clear error. */
const BUSY_TIMEOUT_MS = 15_000;

export function dbPath(stateDir: string): string {
  return path.join(path.resolve(stateDir), DB_FILE);
}

/** Files that only a CA's state dir holds: their presence without a database means it was removed. */
const STATE_DIR_MARKERS = ['ca.crt', 'crl.pem', `${DB_FILE}-wal`];

/**
 * An open state database. Writers serialize with BEGIN IMMEDIATE and the busy timeout, so the app,
 * the CLI and `serve` can share one state dir; WAL lets readers go on while one writes.
 */
export class StateDb {
  private constructor(
    readonly db: DatabaseSync,
    readonly file: string,
  ) {}

  /** Opens the database of an initialized state dir; never creates or changes anything first. */
  static openExisting(stateDir: string): StateDb {
    const dir = path.resolve(stateDir);
    const file = dbPath(dir);
    checkStateDir(dir, { mustExist: true });
    if (!fs.existsSync(file)) {
      const leftovers = STATE_DIR_MARKERS.filter((m) => fs.existsSync(path.join(dir, m)));
      if (leftovers.length > 0) {
        throw new ConsoleError(
          'CORRUPT_STATE',
          `state database ${file} is missing but ${leftovers.join(', ')} of a CA remain; restore the database (refusing to start over)`,
        );
      }
      throw notInitialized(dir);
    }
    checkFileMode(file);
    const state = new StateDb(openDb(file), file);
    try {
      const version = state.userVersion();
      if (version === 0) throw notInitialized(dir);
      if (version > SCHEMA_VERSION) {
        throw new ConsoleError(
          'CORRUPT_STATE',
          `state database ${file} has schema version ${version}, newer than this mtls-console (${SCHEMA_VERSION}); upgrade mtls-console`,
        );
      }
      if (version < SCHEMA_VERSION) state.tx(() => migrate(state.db, version));
      return state;
    } catch (e) {
      state.close();
      throw e;
    }
  }

  /**
   * Creates the database of a new CA and runs `fill` in the same transaction as the schema, so an
   * interrupted init leaves an empty file that the next init may reuse, never half a CA.
   */
  static create<T>(stateDir: string, fill: (db: DatabaseSync) => T): { state: StateDb; value: T } {
    const dir = path.resolve(stateDir);
    const file = dbPath(dir);
    checkStateDir(dir, { mustExist: false });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (IS_POSIX) fs.chmodSync(dir, 0o700);
    const leftovers = STATE_DIR_MARKERS.filter((m) => fs.existsSync(path.join(dir, m)));
    if (!fs.existsSync(file) && leftovers.length > 0) {
      throw new ConsoleError(
        'ALREADY_EXISTS',
        `${dir} holds ${leftovers.join(', ')} of an earlier CA but no database; move them away or restore ${DB_FILE}`,
      );
    }
    try {
      // Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
      fs.closeSync(fs.openSync(file, 'wx', 0o600));
    } catch (e) {
      // It exists: an init killed before its commit left an empty one (reused below), or it is a CA.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw dbError(file, e);
    }
    checkFileMode(file);
    const state = new StateDb(openDb(file), file);
    try {
      const value = state.tx(() => {
        // Checked inside the write transaction, so of two inits at once exactly one creates the CA.
        if (state.userVersion() !== 0) {
          throw new ConsoleError('ALREADY_EXISTS', `a CA already exists in ${dir}; refusing to overwrite it`);
        }
        migrate(state.db, 0);
        return fill(state.db);
      });
      return { state, value };
    } catch (e) {
      state.close();
      throw e;
    }
  }

  userVersion(): number {
    return guard(this.file, () => {
      const row = this.db.prepare('PRAGMA user_version').get() as { user_version?: unknown } | undefined;
      return typeof row?.user_version === 'number' ? row.user_version : 0;
    });
  }

  /** Runs `fn` as one write transaction: all of it is committed, or none of it. */
  tx<T>(fn: () => T): T {
    guard(this.file, () => this.db.exec('BEGIN IMMEDIATE'));
    let value: T;
    try {
      value = fn();
    } catch (e) {
      this.rollback();
      settleHashes(this.db, false);
      throw dbError(this.file, e);
    }
    try {
      this.db.exec('COMMIT');
    } catch (e) {
      this.rollback();
      settleHashes(this.db, false);
      throw dbError(this.file, e);
    }
    settleHashes(this.db, true);
    return value;
  }

  /** A read that sees one consistent snapshot even while other processes commit. */
  read<T>(fn: () => T): T {
    guard(this.file, () => this.db.exec('BEGIN DEFERRED'));
    try {
      return guard(this.file, fn);
    } finally {
      if (this.db.isTransaction) this.db.exec('COMMIT');
    }
  }

  /** Changes whenever another connection commits (PRAGMA data_version): the cheap way to watch the state. */
  dataVersion(): number {
    const row = this.db.prepare('PRAGMA data_version').get() as { data_version?: unknown } | undefined;
    return typeof row?.data_version === 'number' ? row.data_version : 0;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  private rollback(): void {
    try {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
    } catch {
      // SQLite already rolled back (e.g. after SQLITE_FULL); nothing more to undo.
    }
  }
}

function openDb(file: string): DatabaseSync {
  return guard(file, () => {
    const db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
    try {
      db.exec('PRAGMA journal_mode = WAL');
      // FULL: a commit is on disk before it is acknowledged, power loss included.
      db.exec('PRAGMA synchronous = FULL');
      db.exec('PRAGMA foreign_keys = ON');
      // The audit indexes take inserts at many points at once (one per client); a larger page cache
      // keeps them in memory and doubles the sustained append rate (bench/audit.ts).
      db.exec('PRAGMA cache_size = -65536');
      // Checkpoint the WAL every ~40 MB instead of 4 MB: hot index pages are copied back once per
      // checkpoint, not ten times; about 25% more audit records per second (bench/audit.ts).
      db.exec('PRAGMA wal_autocheckpoint = 10000');
      return db;
    } catch (e) {
      db.close();
      throw e;
    }
  });
}

function notInitialized(dir: string): ConsoleError {
  return new ConsoleError('NOT_INITIALIZED', `no CA in ${dir}; run \`mtls-console init --hosts …\` first`);
}

/** Refuses a state dir that is not a directory or belongs to another user, before touching anything. */
function checkStateDir(dir: string, opts: { mustExist: boolean }): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (opts.mustExist) throw notInitialized(dir);
      return;
    }
    throw new ConsoleError('IO', `cannot read state dir ${dir}: ${(e as Error).message}`);
  }
  if (!st.isDirectory()) throw new ConsoleError('INVALID_INPUT', `state dir ${dir} is not a directory`);
  if (IS_POSIX && typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new ConsoleError(
      'FORBIDDEN',
      `state dir ${dir} belongs to another user (uid ${st.uid}); run mtls-console as that user`,
    );
  }
}

/** The database and its companions stay 0600 (they hold sealed keys and the audit trail). */
function checkFileMode(file: string): void {
  if (!IS_POSIX) return;
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      const st = fs.statSync(f);
      if ((st.mode & 0o077) !== 0) fs.chmodSync(f, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw dbError(file, e);
    }
  }
}

/** Maps SQLite's failures to one-line errors that name the file. */
export function dbError(file: string, e: unknown): Error {
  if (e instanceof ConsoleError) return e;
  const err = e as { code?: unknown; errcode?: unknown; errstr?: unknown; message?: unknown };
  const message = typeof err.message === 'string' ? err.message : String(e);
  const code = typeof err.errcode === 'number' ? err.errcode & 0xff : -1;
  switch (code) {
    case 13: // SQLITE_FULL
      return new ConsoleError('IO', `disk full: could not write ${file}; nothing was changed`);
    case 5: // SQLITE_BUSY
    case 6: // SQLITE_LOCKED
      return new ConsoleError(
        'IO',
        `state database ${file} is busy (another mtls-console is writing); nothing was changed, try again`,
      );
    case 11: // SQLITE_CORRUPT
    case 26: // SQLITE_NOTADB
      return new ConsoleError('CORRUPT_STATE', `state database ${file} is corrupt: ${message}`);
    case 10: // SQLITE_IOERR: on a full disk SQLite often says only "disk I/O error"
    case 14: // SQLITE_CANTOPEN (no room for the -wal or -shm file)
      if (diskFull(file))
        return new ConsoleError('IO', `disk full: could not write ${file}; nothing was changed`);
      return new ConsoleError('IO', `cannot write state database ${file}: ${message}`);
    case 8: // SQLITE_READONLY
    case 3: // SQLITE_PERM
      return new ConsoleError('IO', `cannot write state database ${file}: ${message}`);
    default:
      if (err.code === 'ENOSPC') return new ConsoleError('IO', `disk full: could not write ${file}`);
      return e instanceof Error ? e : new Error(message);
  }
}

function diskFull(file: string): boolean {
  try {
    const st = fs.statfsSync(path.dirname(file));
    return st.bavail * st.bsize < 64 * 1024;
  } catch {
    return false;
  }
}

export function guard<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw dbError(file, e);
  }
}
