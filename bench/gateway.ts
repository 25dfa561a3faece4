import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  busyMemory,
  handshakes,
  keepAlive,
  type Env,
  type HandshakeFigures,
  type KeepAliveFigures,
  type MemoryFigures,
  type Server,
} from './gateway/measure';
import { writeNginxConf, writeUpstreamConf } from './gateway/nginx';
import { preparePki, SYNTHETIC_REVOKED } from './gateway/pki';
import { attempt, openIdle, tlsInfo } from './gateway/probes';
import {
  childPids,
  cmdline,
  cpusAllowed,
  freePort,
  pinProcess,
  planCores,
  ProcessGroup,
  rssKiB,
  sleep,
  waitFor,
} from './gateway/procs';
import { num, renderTable, type Row } from './gateway/report';
import { revocationNginx, revocationOurs } from './gateway/revocation';

/**
 * Gateway benchmark, side by side with nginx from Debian on this machine: full mTLS handshakes,
 * keep-alive proxying, memory under load, and revocation enforcement. Both servers do their TLS in one
 * process (nginx: worker_processes 1); the same CA, the same 10,000-serial revocation list, the same
 * upstream process and the same load clients. ROUNDS interleaved rounds (the order alternates), each
 * figure reported as median [min–max]. Ours keeps its per-request audit records on (the default of
 * `serve`), and its CPU counts every process of ours, as nginx's includes its access log.
 */

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'mtls-console.cjs');
/** GW_ROUNDS overrides it for a quick look while working on the harness. */
const ROUNDS = Number(process.env['GW_ROUNDS'] ?? 5) || 5;
const HANDSHAKE_CLIENTS = 4;
const HANDSHAKE_SECONDS = 4;
const KA_CONNS = 32;
const KA_MS = 5000;
const KA_WARMUP_MS = 1000;
const BUSY_CONNS = 50;
const BUSY_MS = 2000;
const BUSY_WARMUP_MS = 500;
const PASSPHRASE = 'gateway bench passphrase';

interface Round {
  readonly hs: HandshakeFigures;
  readonly ka: KeepAliveFigures;
  readonly mem: MemoryFigures;
}

export async function benchGateway(log: (line: string) => void): Promise<void> {
  const T0 = performance.now();
  const dbg = (m: string): void =>
    void (
      process.env['GW_DEBUG'] &&
      process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1)}s] ${m}\n`)
    );
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mtls-bench-gw-'));
  const group = new ProcessGroup();
  /** nginx masters we started; their workers are not our children, so they are adopted for reaping. */
  const masters: number[] = [];
  const cores = planCores();
  const clientCpus = cores.pinned ? cores.client : undefined;
  const serverCpus = cores.pinned ? cores.server : undefined;
  // This process only waits and reads /proc during the windows; keep it off the servers' core too.
  if (cores.pinned) pinProcess(process.pid, cores.client);
  try {
    const stateDir = path.join(tmp, 'state');
    const passFile = path.join(tmp, 'passphrase');
    await fs.writeFile(passFile, PASSPHRASE + '\n', { mode: 0o600 });
    const cliArgs = ['--state-dir', stateDir, '--passphrase-file', passFile];
    const cli = async (...args: string[]): Promise<string> => {
      const p = group.spawn(process.execPath, [CLI, ...cliArgs, ...args]);
      const code = await p.exited;
      if (code !== 0) throw new Error(`mtls-console ${args[0]} failed (${code}): ${p.stderr.join(' | ')}`);
      return p.stdout.join('\n');
    };

    const pki = await preparePki({ cli, stateDir, dir: tmp, passphrase: PASSPHRASE });
    dbg('pki ready');

    // ── processes: the upstream (client core), our `serve` and nginx (server core) ──
    const streamer = group.spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'gateway', 'upstream.ts')],
      { cwd: ROOT, cpus: clientCpus },
    );
    const streamPort = Number((await streamer.line(/^listening (\d+)$/, 15_000))[1]);
    const upstreamPort = await freePort();
    const upDir = path.join(tmp, 'upstream');
    const upConf = await writeUpstreamConf({ dir: upDir, port: upstreamPort, streamPort });
    const upstream = group.spawn(
      '/usr/sbin/nginx',
      ['-e', path.join(upDir, 'error.log'), '-p', upDir, '-c', upConf, '-g', 'daemon off;'],
      { cpus: clientCpus },
    );
    masters.push(upstream.pid);
    const upstreamPids = (): number[] => [upstream.pid, ...childPids(upstream.pid)];
    await waitFor('the upstream nginx worker', () => childPids(upstream.pid)[0], 10_000);

    const oursPort = await freePort();
    const serveArgs = [
      '--listen',
      `127.0.0.1:${oursPort}`,
      '--upstream',
      `http://127.0.0.1:${upstreamPort}`,
      '--max-connections',
      '200',
      // The load and idle probes share one client certificate; nginx has no per-certificate cap.
      '--max-connections-per-identity',
      '200',
    ];
    const serve = group.spawn(process.execPath, [CLI, ...cliArgs, 'serve', ...serveArgs], {
      cpus: serverCpus,
    });
    await serve.line(/^serving mTLS on /, 20_000);
    const gatewayPid = await waitFor('the gateway child', () => childPids(serve.pid)[0], 5000);
    group.adopt(gatewayPid);

    const ngPort = await freePort();
    const ngDir = path.dirname(pki.nginx.cert);
    const ngConf = await writeNginxConf({ dir: ngDir, port: ngPort, upstreamPort, ...pki.nginx });
    const nginx = group.spawn(
      '/usr/sbin/nginx',
      ['-e', path.join(ngDir, 'error.log'), '-p', ngDir, '-c', ngConf, '-g', 'daemon off;'],
      { cpus: serverCpus },
    );
    const nginxMaster = nginx.pid;
    masters.push(nginxMaster);
    const ngWorker = (): number => childPids(nginxMaster)[0] ?? 0;
    await waitFor('the nginx worker', () => ngWorker() || undefined, 10_000);

    // The floor under any Node gateway's memory: node:tls alone answering a fixed response.
    const floorProc = group.spawn(
      process.execPath,
      [path.join(__dirname, 'gateway', 'floor-server.cjs'), pki.nginx.cert, pki.nginx.key, pki.nginx.ca],
      { cpus: serverCpus },
    );
    const floorPort = Number((await floorProc.line(/^listening (\d+)$/, 10_000))[1]);

    const ours: Server = {
      name: 'ours',
      port: oursPort,
      all: () => [gatewayPid, serve.pid],
      proxy: () => [gatewayPid],
      memory: () => gatewayPid,
    };
    const theirs: Server = {
      name: 'nginx',
      port: ngPort,
      all: () => [nginxMaster, ...childPids(nginxMaster)],
      proxy: () => [nginxMaster, ...childPids(nginxMaster)],
      memory: ngWorker,
    };
    for (const s of [ours, theirs]) {
      let v = '';
      for (let i = 0; i < 50 && v !== 'ok'; i++) {
        v = await attempt(s.port, pki.load.creds, 2000);
        if (v !== 'ok') await sleep(100);
      }
      if (v !== 'ok') throw new Error(`${s.name} does not answer the load client (${v})`);
    }
    dbg('servers up');

    // ── configuration, as running ──
    const negotiated = {
      ours: await tlsInfo(ours.port, pki.load.creds),
      nginx: await tlsInfo(theirs.port, pki.load.creds),
    };
    const auditSettings = await cli('audit-settings');
    const gatewayFlags = cmdline(gatewayPid)
      .slice(1)
      .filter((a) => a.startsWith('--'));
    const placement = {
      gateway: cpusAllowed(gatewayPid),
      serve: cpusAllowed(serve.pid),
      nginx: cpusAllowed(ngWorker()),
      upstream: cpusAllowed(childPids(upstream.pid)[0] ?? 0),
    };

    // ── memory with 50 idle connections (fresh processes, before any load) ──
    const idle: Record<string, { fresh: number; with50: number }> = {};
    for (const s of [ours, theirs]) {
      const fresh = rssKiB(s.memory());
      const socks = await openIdle(s.port, pki.load.creds, 50);
      await sleep(300);
      idle[s.name] = { fresh, with50: rssKiB(s.memory()) };
      for (const sock of socks) sock.destroy();
      await sleep(200);
    }

    // ── interleaved rounds; the order alternates so neither server always runs first ──
    const env: Env = { group, clientCpus, serverCpus, load: pki.load, upstreamPids };
    const audit0 = auditCounts(stateDir);
    const rounds: Record<'ours' | 'nginx', Round[]> = { ours: [], nginx: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? [ours, theirs] : [theirs, ours];
      const hs: Partial<Record<'ours' | 'nginx', HandshakeFigures>> = {};
      const ka: Partial<Record<'ours' | 'nginx', KeepAliveFigures>> = {};
      for (const s of order) {
        hs[s.name] = await handshakes(env, s, HANDSHAKE_CLIENTS, HANDSHAKE_SECONDS);
        await sleep(200);
      }
      for (const s of order) {
        ka[s.name] = await keepAlive(env, s, KA_CONNS, KA_MS, KA_WARMUP_MS);
        await sleep(200);
      }
      for (const s of order) {
        const mem = await busyMemory(env, s, BUSY_CONNS, BUSY_MS, BUSY_WARMUP_MS);
        rounds[s.name].push({ hs: hs[s.name]!, ka: ka[s.name]!, mem });
        await sleep(200);
      }
      dbg(
        `round ${r + 1}: ` +
          order
            .map((s) => {
              const x = rounds[s.name][r]!;
              return `${s.name} hs/cpu ${num(x.hs.perCpuAll, 0)} req/s ${num(x.ka.rps, 0)} cpu ${num(x.ka.cpuUsAll, 1)} µs rss ${num(x.mem.peakKiB / 1024, 1)}`;
            })
            .join('; '),
      );
    }
    const floorServer: Server = {
      name: 'nginx', // only its port and pid are used
      port: floorPort,
      all: () => [floorProc.pid],
      proxy: () => [floorProc.pid],
      memory: () => floorProc.pid,
    };
    const floorKa = await keepAlive(env, floorServer, KA_CONNS, KA_MS, KA_WARMUP_MS);
    const floorMem = await busyMemory(env, floorServer, BUSY_CONNS, BUSY_MS, BUSY_WARMUP_MS);
    // The audit writer batches every 100 ms; let the last batch land before counting.
    await sleep(500);
    const audit1 = auditCounts(stateDir);
    dbg('rounds done');

    // ── revocation ──
    const ourRev = await revocationOurs(ours.port, pki.victimOurs, () =>
      cli('revoke', '--serial', pki.victimOurs.serial),
    );
    const ngRev = await revocationNginx(
      theirs.port,
      pki.victimNginx,
      () => cli('revoke', '--serial', pki.victimNginx.serial),
      () => cli('crl', '--out', pki.nginx.crl),
      () => process.kill(nginxMaster, 'SIGHUP'),
    );
    dbg('revocation done');

    // ── report ──
    const col = (name: 'ours' | 'nginx', f: (x: Round) => number): number[] => rounds[name].map(f);
    const both = (f: (x: Round) => number): Pick<Row, 'ours' | 'nginx'> => ({
      ours: col('ours', f),
      nginx: col('nginx', f),
    });
    const mibOf = (kib: number): number => kib / 1024;
    log('configuration:');
    log(`  nginx  ${nginxVersion()}; from its nginx.conf:`);
    for (const l of await nginxDirectives(ngConf)) log(`           ${l}`);
    log(
      `  ours   mtls-console serve (Node ${process.version}, OpenSSL ${process.versions.openssl}): one gateway child process` +
        `${gatewayFlags.length ? ` (node ${gatewayFlags.join(' ')})` : ' (no extra node flags)'} + the serve process (supervisor, audit writer);`,
    );
    log(
      `           TLS 1.3 only, client certificate required, ${num(SYNTHETIC_REVOKED, 0)} revoked serials; ${serveArgs.slice(4).join(' ')};`,
    );
    log(
      `           per-request audit records ON (into the state database, batched); ${auditSettings.trim()}`,
    );
    log(`  negotiated with the load client: ours ${negotiated.ours}; nginx ${negotiated.nginx}`);
    log(
      `  CA ${pki.algorithm}; upstream: another nginx (one worker, plain HTTP keep-alive, access_log off) answering a fixed JSON body from memory`,
    );
    log(
      cores.pinned
        ? `  cores: load clients (openssl s_time, the load worker), the upstream and this harness pinned to CPU ${cores.client}; ` +
            `servers pinned to CPU ${cores.server} (taskset). As running: gateway ${placement.gateway}, serve ${placement.serve}, ` +
            `nginx worker ${placement.nginx}, upstream ${placement.upstream}.`
        : `  cores: NOT pinned (${cores.reason}); clients, upstream and servers share ${os.cpus().length} CPU(s).`,
    );
    log(
      `  load: ${HANDSHAKE_CLIENTS}× openssl s_time -new for ${HANDSHAKE_SECONDS} s; keep-alive: ${KA_CONNS} raw-TLS connections, one request ` +
        `outstanding each, ${KA_WARMUP_MS / 1000} s warm-up then ${KA_MS / 1000} s counted; memory: ${BUSY_CONNS} busy connections for ${BUSY_MS / 1000} s, peak RSS.`,
    );
    log(
      `  ${ROUNDS} interleaved rounds; median [min–max]; ratio = per-round ours/nginx. Server CPU from /proc utime+stime. ` +
        `Other work on this machine shows up as spread: treat absolute numbers as rough.`,
    );
    log('');
    const table: Row[] = [
      {
        label: `new handshakes/s`,
        ...both((x) => x.hs.perSec),
        unit: '/s',
        digits: 0,
      },
      {
        label: 'handshakes per server CPU·s (ours: + serve)',
        ...both((x) => x.hs.perCpuAll),
        unit: '/cpu·s',
        digits: 0,
        goal: { op: '≥', ratio: 1.2 },
      },
      { label: '  gateway process alone', ...both((x) => x.hs.perCpuProxy), unit: '/cpu·s', digits: 0 },
      {
        label: `keep-alive req/s (${KA_CONNS} conns)`,
        ...both((x) => x.ka.rps),
        unit: '/s',
        digits: 0,
        goal: { op: '≥', ratio: 1.0 },
      },
      { label: '  latency p50', ...both((x) => x.ka.p50), unit: 'ms', digits: 2 },
      {
        label: '  latency p99',
        ...both((x) => x.ka.p99),
        unit: 'ms',
        digits: 2,
        goal: { op: '≤', ratio: 1.2 },
      },
      {
        label: 'CPU per request (ours: gateway + serve)',
        ...both((x) => x.ka.cpuUsAll),
        unit: 'µs',
        digits: 1,
        goal: { op: '≤', ratio: 1.5 },
      },
      { label: '  gateway process alone', ...both((x) => x.ka.cpuUsProxy), unit: 'µs', digits: 1 },
      {
        label: '  serve process alone',
        ours: col('ours', (x) => x.ka.cpuUsAll - x.ka.cpuUsProxy),
        nginx: [],
        unit: 'µs',
        digits: 1,
      },
      {
        label: `RSS, ${BUSY_CONNS} busy conns (gateway / nginx worker)`,
        ...both((x) => mibOf(x.mem.peakKiB)),
        unit: 'MiB',
        digits: 1,
        absGoal: { op: '≤', value: 64 },
      },
      {
        label: '  of which anonymous (heap, buffers)',
        ...both((x) => mibOf(x.mem.anonKiB)),
        unit: 'MiB',
        digits: 1,
      },
      {
        label: '  of which file-backed (the binary, shared)',
        ...both((x) => mibOf(x.mem.fileKiB)),
        unit: 'MiB',
        digits: 1,
      },
      {
        label: '  PSS (shared pages split among processes)',
        ...both((x) => mibOf(x.mem.pssKiB)),
        unit: 'MiB',
        digits: 1,
      },
      {
        label: '  every process (+ serve / + master)',
        ...both((x) => mibOf(x.mem.peakAllKiB)),
        unit: 'MiB',
        digits: 1,
      },
      {
        label: 'load client CPU per request',
        ...both((x) => x.ka.clientUs),
        unit: 'µs',
        digits: 1,
      },
      { label: 'upstream CPU per request', ...both((x) => x.ka.upstreamUs), unit: 'µs', digits: 1 },
      {
        label: 'keep-alive: CPU the server used',
        ...both((x) => x.ka.serverBusy * 100),
        unit: '% core',
        digits: 0,
        ratio: false,
      },
      {
        label: '  load client + upstream',
        ...both((x) => x.ka.clientBusy * 100),
        unit: '% core',
        digits: 0,
        ratio: false,
      },
      {
        label: '  anything else on the server core',
        ...both((x) => x.ka.otherOnServerCore * 100),
        unit: '% core',
        digits: 0,
        ratio: false,
      },
      {
        label: '  anything else on the client core',
        ...both((x) => x.ka.otherOnClientCore * 100),
        unit: '% core',
        digits: 0,
        ratio: false,
      },
    ];
    for (const l of renderTable(table)) log(l);
    const ia = idle['ours']!;
    const ib = idle['nginx']!;
    log(
      `RSS fresh → with 50 idle connections: gateway ${num(mibOf(ia.fresh), 1)} → ${num(mibOf(ia.with50), 1)} MiB; ` +
        `nginx worker ${num(mibOf(ib.fresh), 1)} → ${num(mibOf(ib.with50), 1)} MiB`,
    );
    log(
      `floor of any Node gateway: node:tls alone (TLS 1.3, client certificate required, a fixed 200 answer; ` +
        `no parser, proxy or audit), same load, one run: ${num(floorKa.cpuUsAll, 1)} µs CPU per request ` +
        `(${num(floorKa.rps, 0)} req/s, p99 ${num(floorKa.p99, 2)} ms); RSS with ${BUSY_CONNS} busy connections ` +
        `${num(mibOf(floorMem.peakKiB), 1)} MiB (${num(mibOf(floorMem.anonKiB), 1)} anonymous + ` +
        `${num(mibOf(floorMem.fileKiB), 1)} file-backed)`,
    );
    for (const name of ['ours', 'nginx'] as const) {
      const rs = rounds[name];
      const errors = rs.reduce((a, x) => a + x.ka.errors + x.mem.errors, 0);
      const first = rs.map((x) => x.ka.firstError).find((e) => e !== undefined);
      log(`errors ${name}: ${errors}${first ? ` (first: ${first})` : ''}`);
    }
    const served = rounds.ours.reduce((a, x) => a + x.ka.total + x.mem.total, 0);
    const added = Object.entries(audit1)
      .map(([type, n]) => [type, n - (audit0[type] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([type, n]) => `${type} ${num(n, 0)}`);
    log(
      `audit records ours appended during the rounds: ${added.join(', ') || 'none'} ` +
        `(${num(served, 0)} keep-alive requests answered 200, plus the handshakes)`,
    );
    log('revocation (target: enforced within 100 ms of `revoke` returning):');
    log(`  ours:  ${ourRev.summary} ${ourRev.enforcedMs <= 100 ? '[met]' : '[MISSED]'}`);
    for (const l of ourRev.details) log(`         ${l}`);
    log(`  nginx: ${ngRev.summary}`);
    for (const l of ngRev.details) log(`         ${l}`);
    dbg('done');
  } finally {
    for (const m of masters) for (const p of childPids(m)) group.adopt(p);
    await group.reapAll();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** Audit records per type, from the state database's own counter table (read-only, beside `serve`). */
function auditCounts(stateDir: string): Record<string, number> {
  const db = new DatabaseSync(path.join(stateDir, 'state.db'), { readOnly: true, timeout: 5000 });
  try {
    const rows = db.prepare('SELECT type, n FROM audit_type_count').all() as Array<{
      type: string;
      n: number;
    }>;
    return Object.fromEntries(rows.map((r) => [r.type, Number(r.n)]));
  } finally {
    db.close();
  }
}

/** The directives that decide what nginx does per connection and request, as written in its config. */
async function nginxDirectives(conf: string): Promise<string[]> {
  const text = await fs.readFile(conf, 'utf8');
  const keep =
    /^\s*(worker_processes|worker_connections|events|access_log|keepalive|keepalive_requests|ssl_protocols|ssl_verify_client|ssl_crl|proxy_http_version|proxy_set_header)\b/;
  return text
    .split('\n')
    .filter((l) => keep.test(l))
    .map((l) => l.trim().replace(/\/\S*\//g, '…/'));
}

function nginxVersion(): string {
  const r = spawnSync('/usr/sbin/nginx', ['-V'], { encoding: 'utf8' });
  const text = `${r.stderr}${r.stdout}`;
  const version = /nginx\/[\w.]+/.exec(text)?.[0] ?? 'nginx';
  const ssl =
    /running with (OpenSSL [\w.]+)/.exec(text)?.[1] ?? /built with (OpenSSL [\w.]+)/.exec(text)?.[1];
  return `${version} (Debian${ssl ? `, ${ssl}` : ''}), one worker process`;
}
