import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { AUDIT_SCHEMA_SQL } from '../src/main/audit';
import { ConsoleService, createVaultResolver } from '../src/main/service';
import type { GatewayChild, GatewayLauncher } from '../src/main/gateway';
import { Outbox } from '../src/main/gateway/outbox';
import type { ParentLink } from '../src/main/gateway/parent-link';
import type { GatewayAuditEntry } from '../src/main/gateway/protocol';
import { fmt, median, timeIt } from './stats';

const PASSPHRASE = 'correct horse battery staple';

/**
 * A gateway child that lives in this process: it answers `start` with `ready` and `stop` with an exit,
 * and lets the bench deliver messages as Node's IPC channel would (JSON.parse of the line the child
 * wrote, then the supervisor's message handler). Everything from there on is the real parent side.
 */
class InProcessChild implements GatewayChild {
  readonly pid = process.pid;
  private message: (msg: unknown) => void = () => undefined;
  private exit: (code: number | null, signal: NodeJS.Signals | null) => void = () => undefined;

  send(msg: { type: string }): void {
    if (msg.type === 'start') setImmediate(() => this.message({ type: 'ready', host: '127.0.0.1', port: 1 }));
    if (msg.type === 'stop') setImmediate(() => this.exit(0, null));
  }
  deliver(line: string): void {
    this.message(JSON.parse(line));
  }
  onMessage(cb: (msg: unknown) => void): void {
    this.message = cb;
  }
  onExit(cb: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.exit = cb;
  }
  onStdoutLine(): void {}
  onStderrLine(): void {}
  kill(signal?: NodeJS.Signals): void {
    setImmediate(() => this.exit(null, signal ?? 'SIGTERM'));
  }
}

class InProcessLauncher implements GatewayLauncher {
  child: InProcessChild | null = null;
  launch(): GatewayChild {
    this.child = new InProcessChild();
    return this.child;
  }
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

/** A `gateway.request` entry exactly as gateway.ts builds it (onRequestDone). */
function requestEntry(i: number): GatewayAuditEntry {
  const c = (i * 7919) % 1000;
  return {
    type: 'gateway.request',
    actor: { kind: 'client', cn: `client-${c}`, serial: (0x10000000000000000000n + BigInt(c)).toString(16) },
    details: {
      id: (0x1000_0000_0000 + c).toString(16).padStart(16, '0'),
      method: 'GET',
      path: `/api/items/${i % 977}?page=${i % 7}`,
      status: 200,
      bytesIn: 0,
      bytesOut: 1_000 + (i % 4_000),
      ms: i % 13,
      outcome: 'ok',
    },
    time: new Date().toISOString(),
  };
}

/**
 * What the gateway child writes on its IPC channel: its Outbox's messages, one JSON line each (Node's
 * 'json' IPC serialization). Returns the lines and the child's CPU µs per record for them.
 */
function wireLines(n: number): { lines: string[]; childUs: number } {
  const entries = Array.from({ length: n }, (_, i) => requestEntry(i));
  const lines: string[] = [];
  const link: ParentLink = {
    kind: 'node-ipc',
    send: (msg) => void lines.push(JSON.stringify(msg)),
    onMessage: () => undefined,
    onClose: () => undefined,
    flush: () => Promise.resolve(),
  };
  const out = new Outbox(link);
  const t = process.cpuUsage();
  for (const e of entries) out.audit(e);
  out.flushAudit();
  return { lines, childUs: (cpuMs(process.cpuUsage(t)) * 1000) / n };
}

/**
 * The floor under the figures: SQLite alone writing the same rows, columns prebuilt, into the audit
 * schema as the app opens it (WAL, synchronous=FULL, 64 MB cache), 5,000 rows per commit.
 */
function sqliteFloorUs(dir: string, n: number, k: number): number {
  const file = path.join(dir, `floor-${k}.db`);
  const db = new DatabaseSync(file);
  try {
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536');
    db.exec('PRAGMA wal_autocheckpoint = 10000');
    db.exec(AUDIT_SCHEMA_SQL);
    const insert = db.prepare(
      'INSERT INTO audit (seq, time, type, actor_kind, actor, actor_serial, cn, serial, details, prev, hash) ' +
        'VALUES (?,?,?,?,?,?,?,?,?,?,?)',
    );
    const hash = 'a'.repeat(64);
    const rows = Array.from({ length: n }, (_, i) => {
      const e = requestEntry(i);
      const a = e.actor.kind === 'client' ? e.actor : { cn: '', serial: '' };
      return [
        i + 1,
        e.time ?? '',
        e.type,
        'client',
        a.cn,
        a.serial,
        a.cn,
        a.serial,
        JSON.stringify(e.details),
      ] as const;
    });
    const t = process.cpuUsage();
    for (let i = 0; i < n; i += 5_000) {
      db.exec('BEGIN IMMEDIATE');
      for (const r of rows.slice(i, i + 5_000)) insert.run(...r, hash, hash);
      db.exec('COMMIT');
    }
    return (cpuMs(process.cpuUsage(t)) * 1000) / n;
  } finally {
    db.close();
  }
}

/**
 * The parent side of the per-request audit record (issue 12): µs of CPU per `gateway.request` record
 * from the IPC message arriving to its row being committed, through the real supervisor, GatewayHost,
 * AuditSink and audit chain on a real state database (WAL, synchronous=FULL, signed checkpoints).
 * Messages arrive as the gateway sends them under load: batches of 500, one every 10 ms (50,000
 * records/s).
 */
export async function benchAuditPath(log: (line: string) => void): Promise<void> {
  const n = Number(process.env['AUDIT_PATH_RECORDS'] ?? 50_000);
  const rounds = Number(process.env['AUDIT_PATH_ROUNDS'] ?? 5);
  const batch = 500; // the Outbox's batch
  const everyMs = 10;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mtls-audit-path-'));
  const launcher = new InProcessLauncher();
  const service = new ConsoleService({
    stateDir: path.join(tmp, 'state'),
    vaults: createVaultResolver({ passphrase: () => Promise.resolve(PASSPHRASE) }),
    gatewayLauncher: launcher,
  });
  try {
    await service.init({
      algorithm: 'ecdsa-p256',
      caName: 'Bench CA',
      hosts: ['localhost'],
      serverDays: 90,
      vault: { backend: 'passphrase', passphrase: PASSPHRASE },
    });
    const childSide: number[] = [];
    const handling: number[] = [];
    const total: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const { lines, childUs } = wireLines(n);
      childSide.push(childUs);
      await service.startGateway({ listen: '127.0.0.1:0', upstream: 'http://127.0.0.1:9' });
      const child = launcher.child;
      if (!child) throw new Error('the gateway was not launched');
      let inHandler = 0;
      const cpu0 = process.cpuUsage();
      for (const line of lines) {
        const t = process.cpuUsage();
        child.deliver(line);
        inHandler += cpuMs(process.cpuUsage(t));
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
      await service.stopGateway(); // flushes the sink: every record is committed when this resolves
      const spent = cpuMs(process.cpuUsage(cpu0));
      handling.push((inHandler * 1000) / n);
      total.push((spent * 1000) / n);
    }
    const floor = [0, 1, 2].map((k) => sqliteFloorUs(tmp, n, k));
    const page = await service.auditQuery({ filter: { type: 'gateway.request' }, limit: 1 });
    const [verify, verifyMs] = await timeIt(() => service.auditVerify());
    if (page.total !== n * rounds) throw new Error(`expected ${n * rounds} records, found ${page.total}`);
    if (!verify.ok) throw new Error(`the audit chain does not verify: ${verify.summary}`);
    const range = (xs: number[]) =>
      `${median(xs).toFixed(1)} µs [${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}]`;
    log(
      `${rounds} rounds of ${n.toLocaleString('en-US')} gateway.request records ` +
        `(batches of ${batch} every ${everyMs} ms), CPU per record, median [min–max]:`,
    );
    log(`  in the gateway child (Outbox, IPC JSON line):             ${range(childSide)}`);
    log(`  message handling (IPC parse, supervisor, host, sink queue): ${range(handling)}`);
    log(`  end to end (… and the committed, hash-chained row):         ${range(total)}`);
    log(`  SQLite alone, same rows prebuilt (the floor):               ${range(floor)}`);
    log(`  chain verified: ${verify.records.toLocaleString('en-US')} records in ${fmt(verifyMs)}`);
  } finally {
    await service.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchAuditPath((line) => process.stdout.write(line + '\n')).catch((e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
