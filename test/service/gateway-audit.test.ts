import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_SCHEMA_SQL,
  appendAudit,
  appendPrepared,
  prepareEntry,
  type AuditEntryInput,
} from '../../src/main/audit';
import { ForkLauncher } from '../../src/main/gateway';
import { BAD_MARK, GOOD_ROWS, writeHostileChild } from '../../src/main/gateway/hostile-child.fixture';
import {
  checkAuditMessage,
  toWireRow,
  type GatewayAuditEntry,
  type GatewayAuditRow,
} from '../../src/main/gateway/protocol';
import { ConsoleService, createVaultResolver } from '../../src/main/service';
import { preparedFromGateway } from '../../src/main/service/gateway-host';
import type { AuditRecord } from '../../src/shared/model';
import { makeEnv, removeEnv, type Env } from '../helpers/cli';
import { initCa } from '../helpers/service';

const PASSPHRASE = 'correct horse battery staple';

/** What the parent made of a gateway entry before the compact rows: a Date, the actor, cn and serial. */
function viaEntryPath(e: GatewayAuditEntry): AuditEntryInput {
  return {
    type: e.type,
    actor: e.actor,
    cn: e.actor.kind === 'client' ? e.actor.cn : null,
    serial: e.actor.kind === 'client' ? e.actor.serial : null,
    details: e.details,
    ...(e.time ? { time: new Date(e.time) } : {}),
  };
}

/** Through the wire as the gateway sends it: the Outbox's row, the IPC's JSON, the supervisor's check. */
function viaWire(e: GatewayAuditEntry): GatewayAuditRow {
  const rows = checkAuditMessage(JSON.parse(JSON.stringify({ type: 'audit', rows: [toWireRow(e)] })));
  if (typeof rows === 'string') throw new Error(rows);
  return rows[0]!;
}

function memoryLog(): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  db.exec(AUDIT_SCHEMA_SQL);
  return db;
}

describe('gateway audit records on the compact path', () => {
  const time = '2031-05-06T07:08:09.010Z';
  const entries: GatewayAuditEntry[] = [
    {
      type: 'gateway.request',
      actor: { kind: 'client', cn: 'Ålice "the" admin\u2028', serial: '0A1B2C3D4E5F60718293A4B5C6D7E8F9' },
      details: {
        id: '9f8e7d6c5b4a3210',
        method: 'POST',
        path: '/ünïcode?q=a%20b&x="y"\\z',
        status: 201,
        bytesIn: 12_345,
        bytesOut: 0,
        ms: 17,
        outcome: 'ok',
        upgrade: true,
      },
      time,
    },
    {
      type: 'gateway.connection.refused',
      actor: { kind: 'system' },
      details: {
        reason: 'unknown_ca',
        remote: '[::1]:5555',
        detail: null,
        extra: { nested: [1, 'two', null] },
      },
      time,
    },
    {
      type: 'gateway.connection.closed',
      actor: { kind: 'client', cn: 'bob', serial: 'ff' },
      details: { id: 'x', bytesIn: 1.5, durationMs: 1e21, requests: 0 },
      time,
    },
  ];

  it('stores exactly the records the entry path stored: same rows, hashes and appended records', () => {
    const now = new Date('2031-05-06T07:08:10.000Z');
    const viaEntries = memoryLog();
    const viaRows = memoryLog();
    const a = appendAudit(viaEntries, entries.map(viaEntryPath), { now });
    const b = appendPrepared(viaRows, entries.map(viaWire).map(preparedFromGateway), { now });
    expect(b).toEqual(a);
    const all = 'SELECT * FROM audit ORDER BY seq';
    expect(viaRows.prepare(all).all()).toEqual(viaEntries.prepare(all).all());
    for (const e of entries) {
      const { parsed: _parsed, ...columns } = preparedFromGateway(viaWire(e));
      expect(columns).toEqual(prepareEntry(viaEntryPath(e), now));
    }
  });

  it('never lets a gateway record pose as a checkpoint, even if a caller skipped the check', () => {
    const forged = { ...preparedFromGateway(viaWire(entries[1]!)), type: 'audit.checkpoint' };
    expect(() => appendPrepared(memoryLog(), [forged])).toThrow(/reserved for signed checkpoints/);
  });
});

describe('a hostile gateway child', () => {
  let env: Env;
  let service: ConsoleService;

  beforeAll(async () => {
    env = await makeEnv();
    service = new ConsoleService({
      stateDir: env.stateDir,
      vaults: createVaultResolver({ passphrase: () => Promise.resolve(PASSPHRASE) }),
      gatewayLauncher: new ForkLauncher(writeHostileChild(env.tmp)),
    });
    await initCa(service, 'Hostile Gateway CA');
  });
  afterAll(async () => {
    await service.close();
    await removeEnv(env);
  });

  it('gets its malformed audit batches refused: nothing of them is stored, the rest is, the chain verifies', async () => {
    const appended: AuditRecord[] = [];
    const last = new Promise<void>((resolve) => {
      const off = service.on('audit.appended', (records) => {
        appended.push(...records);
        if (records.some((r) => r.type === 'gateway.connection.refused')) {
          off();
          resolve();
        }
      });
    });
    expect((await service.startGateway({ listen: '127.0.0.1:0', upstream: 'http://127.0.0.1:9' })).kind).toBe(
      'running',
    );
    await last;

    const all = (await service.auditQuery({ limit: 1000 })).records;
    expect(all.filter((r) => JSON.stringify(r.details).includes(BAD_MARK))).toEqual([]);
    expect(all.filter((r) => r.type === 'client.revoked')).toEqual([]);
    const fromGateway = all.filter(
      (r) => r.type === 'gateway.request' || r.type === 'gateway.connection.refused',
    );
    expect(fromGateway.reverse().map((r) => [r.time, r.type, r.actor, r.cn, r.serial, r.details])).toEqual([
      [
        GOOD_ROWS[0]![0],
        'gateway.request',
        { kind: 'client', cn: 'alice', serial: 'AB12CD' },
        'alice',
        'ab12cd',
        GOOD_ROWS[0]![4],
      ],
      [GOOD_ROWS[1]![0], 'gateway.connection.refused', { kind: 'system' }, null, null, GOOD_ROWS[1]![4]],
    ]);
    // The live feed shows what the database holds, without parsing it back.
    const live = appended.filter((r) => r.type.startsWith('gateway.'));
    expect(live).toEqual(all.filter((r) => live.some((l) => l.seq === r.seq)).reverse());

    const status = await service.status();
    expect(status.gateway.state.kind).toBe('running');
    expect(status.auditWrites.ok).toBe(true);
    expect(status.auditWrites.queued).toBe(0);
    await service.stopGateway();
    const verified = await service.auditVerify();
    expect(verified.ok).toBe(true);
  });
});
