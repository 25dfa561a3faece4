import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_CONFIG } from '../../shared/model';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import {
  connect,
  curl,
  curlStatus,
  GATEWAY_SOURCE,
  Harness,
  request,
  Upstream,
  closed,
} from './harness.fixture';
import { BAD_AUDIT_MESSAGES, DONE_LINE, GOOD_ROWS, writeHostileChild } from './hostile-child.fixture';
import { ForkLauncher, sanitizedEnv } from './launcher';
import type { GatewayAuditEntry, GatewayAuditRow } from './protocol';
import { GatewayStartError, GatewaySupervisor, type SupervisorLogLine } from './supervisor';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('GatewaySupervisor', () => {
  const pki = TestPki.create();
  const upstream = new Upstream();
  let ca: Ca;
  let server: Pair;
  let alice: Pair;

  beforeAll(async () => {
    ca = await pki.ca('Supervisor Test CA');
    server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    await upstream.listen();
  });

  afterAll(async () => {
    await upstream.close();
    pki.cleanup();
  });

  it('reports a kill -9 as crashed with the last lines, restarts with backoff, and serves again', async () => {
    const h = new Harness({ backoff: { initialMs: 200, maxMs: 1000, stableMs: 60_000 } });
    const listenPort = await freePort();
    await h.start(Harness.material(ca, server), {
      upstream: upstream.url,
      listen: `127.0.0.1:${listenPort}`,
    });
    try {
      expect(curlStatus(await curl(listenPort, '/', { ca, client: alice }))).toBe(200);
      const state = h.sup.state();
      if (state.kind !== 'running') throw new Error(`expected running, got ${state.kind}`);
      const firstPid = state.pid;
      const crashed = new Promise<void>((resolve) => {
        const off = h.sup.onState((s) => {
          if (s.kind === 'crashed') {
            off();
            expect(s.restartAt).toBeDefined();
            expect(s.lastLines.join('\n')).toContain('listening on');
            resolve();
          }
        });
      });
      process.kill(firstPid, 'SIGKILL');
      await crashed;
      const entry = await h.waitAudit((e) => e.type === 'gateway.crashed');
      expect(entry.actor).toEqual({ kind: 'system' });
      expect(entry.details).toMatchObject({ signal: 'SIGKILL', restartInMs: 200 });
      expect((entry.details['lastLines'] as string[]).length).toBeGreaterThan(0);
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (h.sup.state().kind === 'running') {
            off();
            resolve();
          }
        };
        const off = h.sup.onState(check);
        check();
      });
      const again = h.sup.state();
      expect(again.kind === 'running' && again.pid !== firstPid).toBe(true);
      expect(curlStatus(await curl(listenPort, '/after-crash', { ca, client: alice }))).toBe(200);
      expect(h.states).toEqual(['starting', 'running', 'crashed', 'starting', 'running']);
    } finally {
      await h.stop();
    }
    expect(h.sup.state().kind).toBe('stopped');
  });

  it('rejects start() with the reason when the port is taken, and does not restart', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const sup = new GatewaySupervisor(new ForkLauncher(GATEWAY_SOURCE, ['--import', 'tsx']));
    try {
      const err = await sup
        .start(Harness.material(ca, server), {
          ...DEFAULT_GATEWAY_CONFIG,
          listen: `127.0.0.1:${taken}`,
          upstream: upstream.url,
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(GatewayStartError);
      expect((err as Error).message).toContain('EADDRINUSE');
      const s = sup.state();
      expect(s.kind).toBe('crashed');
      expect(s.kind === 'crashed' && s.restartAt).toBeFalsy();
    } finally {
      await sup.stop();
      blocker.close();
    }
  });

  it('refuses a non-loopback upstream unless allowed', async () => {
    const sup = new GatewaySupervisor(new ForkLauncher(GATEWAY_SOURCE, ['--import', 'tsx']));
    await expect(
      sup.start(Harness.material(ca, server), {
        ...DEFAULT_GATEWAY_CONFIG,
        listen: '127.0.0.1:0',
        upstream: 'http://10.1.2.3:80',
      }),
    ).rejects.toThrow(/loopback/);
    expect(sup.state().kind).toBe('stopped');
  });

  it('kills a child that never becomes ready and reports its last lines', async () => {
    const stuck = path.join(pki.dir, 'stuck.cjs');
    writeFileSync(stuck, "console.log('stuck child says hello'); setInterval(() => {}, 1000);\n");
    const sup = new GatewaySupervisor(new ForkLauncher(stuck), { readyTimeoutMs: 500 });
    const err = await sup
      .start(Harness.material(ca, server), {
        ...DEFAULT_GATEWAY_CONFIG,
        listen: '127.0.0.1:0',
        upstream: upstream.url,
      })
      .then(
        () => null,
        (e: unknown) => e as GatewayStartError,
      );
    expect(err?.message).toContain('did not become ready within 500 ms');
    expect(err?.lastLines.join('\n')).toContain('stuck child says hello');
  });

  it('refuses malformed audit batches from the child as a whole, and keeps running', async () => {
    const sup = new GatewaySupervisor(new ForkLauncher(writeHostileChild(pki.dir)));
    const rows: GatewayAuditRow[] = [];
    const entries: GatewayAuditEntry[] = [];
    const notes: SupervisorLogLine[] = [];
    sup.onAuditRows((r) => rows.push(...r));
    sup.onAudit((e) => entries.push(...e));
    const done = new Promise<void>((resolve) =>
      sup.onLog((l) => {
        notes.push(l);
        if (l.line === DONE_LINE) resolve();
      }),
    );
    try {
      await sup.start(Harness.material(ca, server), {
        ...DEFAULT_GATEWAY_CONFIG,
        listen: '127.0.0.1:0',
        upstream: upstream.url,
      });
      await done;
      const refused = notes.filter((l) => l.line.startsWith('malformed audit batch from gateway, refused'));
      expect(refused).toHaveLength(BAD_AUDIT_MESSAGES.length);
      expect(sup.state().kind).toBe('running');
      // Only the good batch came through, checked and in order, with the JSON text that gets hashed.
      expect(rows.map((r) => [r.time, r.type, r.cn, r.serial, r.details])).toEqual(GOOD_ROWS);
      for (const r of rows) expect(r.detailsJson).toBe(JSON.stringify(r.details));
      expect(entries.map((e) => e.actor)).toEqual([
        { kind: 'client', cn: 'alice', serial: 'AB12CD' },
        { kind: 'system' },
      ]);
    } finally {
      await sup.stop();
    }
  });

  it('kills connections by id and by serial', async () => {
    const h = new Harness();
    const port = await h.start(Harness.material(ca, server), { upstream: upstream.url });
    try {
      const a = await connect(port, ca, alice);
      const b = await connect(port, ca, alice);
      expect((await request(a, '/x')).status).toBe(200);
      const list = await h.waitConnections((l) => l.length === 2);
      const target = list.find((c) => c.requests === 1)!;
      expect(await h.sup.kill({ id: target.id })).toBe(1);
      await closed(a);
      const killed = await h.waitAudit(
        (e) => e.type === 'gateway.connection.closed' && e.details['id'] === target.id,
      );
      expect(killed.details['reason']).toBe('killed');
      expect(await h.sup.kill({ serial: alice.serial.toUpperCase() })).toBe(1);
      await closed(b);
      expect(await h.sup.kill({ id: 'nope' })).toBe(0);
    } finally {
      await h.stop();
    }
  });

  it('stops gracefully: an in-flight request finishes, then the process exits 0', async () => {
    const h = new Harness();
    const port = await h.start(Harness.material(ca, server), { upstream: upstream.url });
    const s = await connect(port, ca, alice);
    const pending = request(s, '/slow?ms=300');
    await h.waitConnections((l) => l.length === 1 && l[0]!.requests === 1);
    await h.sup.stop(5_000);
    expect((await pending).status).toBe(200);
    expect(h.sup.state().kind).toBe('stopped');
    expect(h.states.slice(-2)).toEqual(['stopping', 'stopped']);
  });

  it('the gateway exits when its parent goes away (never orphaned)', async () => {
    // An intermediate parent forks the gateway, reports the pid, and is then killed with -9.
    const parentScript = path.join(pki.dir, 'parent.cjs');
    writeFileSync(
      parentScript,
      `const { fork } = require('node:child_process');
       const c = fork(${JSON.stringify(GATEWAY_SOURCE)}, [], { execArgv: ['--import', 'tsx'], stdio: 'ignore' });
       c.on('spawn', () => process.send({ pid: c.pid }));
       setInterval(() => {}, 1000);\n`,
    );
    const parent = fork(parentScript, [], {
      env: sanitizedEnv(),
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    const pid = await new Promise<number>((resolve) =>
      parent.once('message', (m: { pid: number }) => resolve(m.pid)),
    );
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
  });
});
