import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  algorithmOfCert,
  exportPrivateKeyPkcs8Der,
  importPrivateKey,
  issueServerCert,
  privateKeyPem,
  randomSerial,
} from '../src/main/pki';
import { addSyntheticCertificates, sealedCaKey } from './synthetic';
import { PassphraseVault } from '../src/main/vault';
import { writeNginxConf } from './gateway/nginx';
import { attempt, LiveKeepAlive, LiveStream, openIdle, type ClientCreds } from './gateway/probes';
import {
  childPids,
  cpuOf,
  freePort,
  ProcessGroup,
  rssKiB,
  sleep,
  waitFor,
  type Spawned,
} from './gateway/procs';
import { median, percentile } from './stats';

/**
 * Gateway benchmark (side by side with nginx from Debian, one run, this machine): full mTLS
 * handshakes, keep-alive proxying, memory with 50 connections, and revocation enforcement.
 * Both servers are one process doing the TLS work (nginx: worker_processes 1); the same CA, the same
 * 10,000-serial revocation list, the same upstream process, the same load clients, interleaved rounds.
 */

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'mtls-console.cjs');
const ROUNDS = 3;
const HANDSHAKE_CLIENTS = 4;
const HANDSHAKE_SECONDS = 5;
const KA_PROCS = 2;
const KA_CONNS_PER_PROC = 16;
const KA_MS = 5000;
const SYNTHETIC_REVOKED = 10_000;
const PASSPHRASE = 'gateway bench passphrase';

interface Client {
  readonly serial: string;
  readonly files: { cert: string; key: string; ca: string };
  readonly creds: ClientCreds;
}

interface Server {
  readonly name: 'ours' | 'nginx';
  readonly port: number;
  /** The processes doing the TLS and proxy work (ours: the gateway child; nginx: master + worker). */
  pids(): number[];
}

interface Round {
  hsPerSec: number;
  hsPerCpuSec: number;
  /** Ours: counting the serve process (supervisor + audit writer) too. */
  hsPerCpuSecWithSup: number;
  kaRps: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
  kaErrors: number;
  supervisorUsPerReq?: number;
}

/** A helper script of bench/gateway in its own Node process (TypeScript through tsx's loader). */
const nodeTsx = (file: string, ...args: string[]): [string, string[]] => [
  process.execPath,
  ['--import', 'tsx', path.join(__dirname, 'gateway', file), ...args],
];

export async function benchGateway(log: (line: string) => void): Promise<void> {
  const T0 = performance.now();
  const dbg = (m: string): void =>
    void (
      process.env['GW_DEBUG'] &&
      process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1)}s] ${m}\n`)
    );
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mtls-bench-gw-'));
  const group = new ProcessGroup();
  let nginxMaster = 0;
  try {
    const stateDir = path.join(tmp, 'state');
    const passFile = path.join(tmp, 'passphrase');
    await fs.writeFile(passFile, PASSPHRASE + '\n', { mode: 0o600 });
    const cli = async (...args: string[]): Promise<string> => {
      const p = group.spawn(process.execPath, [
        CLI,
        '--state-dir',
        stateDir,
        '--passphrase-file',
        passFile,
        ...args,
      ]);
      const code = await p.exited;
      if (code !== 0) throw new Error(`mtls-console ${args[0]} failed (${code}): ${p.stderr.join(' | ')}`);
      return p.stdout.join('\n');
    };

    // ── PKI: CA, three clients, 10,000 synthetic revocations, a plain-key server cert for nginx ──
    await cli('init', '--hosts', 'localhost,127.0.0.1');
    const issue = async (name: string): Promise<Client> => {
      const out = JSON.parse(
        await cli('issue-client', '--name', name, '--out-dir', path.join(tmp, 'clients'), '--json'),
      ) as { serial: string; files: Client['files'] };
      const creds = {
        cert: await fs.readFile(out.files.cert),
        key: await fs.readFile(out.files.key),
        ca: await fs.readFile(out.files.ca),
      };
      return { serial: out.serial, files: out.files, creds };
    };
    const load = await issue('load');
    const victimOurs = await issue('revoked-on-ours');
    const victimNginx = await issue('revoked-on-nginx');

    const caCertPem = await fs.readFile(path.join(stateDir, 'ca.crt'), 'utf8');
    const algorithm = algorithmOfCert(caCertPem);
    const caKeyDer = await new PassphraseVault(PASSPHRASE).unseal(sealedCaKey(stateDir));
    addSyntheticCertificates(stateDir, { certificates: SYNTHETIC_REVOKED, revoked: SYNTHETIC_REVOKED });
    // The product's own republish signs the CRL over the 10,000 synthetic entries.
    await cli('crl', '--refresh');

    const ngDir = path.join(tmp, 'nginx');
    await fs.mkdir(ngDir, { recursive: true });
    const { cert: ngCert, keys: ngKeys } = await issueServerCert({
      ca: { certPem: caCertPem, privateKey: await importPrivateKey(caKeyDer, algorithm) },
      algorithm,
      hosts: ['localhost', '127.0.0.1'],
      validityDays: 30,
      now: new Date(),
      serial: randomSerial(),
    });
    await fs.writeFile(path.join(ngDir, 'server.crt'), ngCert.certPem);
    await fs.writeFile(
      path.join(ngDir, 'server.key'),
      privateKeyPem(await exportPrivateKeyPkcs8Der(ngKeys.privateKey)),
      {
        mode: 0o600,
      },
    );
    await fs.writeFile(path.join(ngDir, 'ca.crt'), caCertPem);
    const ngCrl = path.join(ngDir, 'crl.pem');
    await cli('crl', '--out', ngCrl);

    dbg('pki ready');
    // ── processes: upstream, our gateway (`serve`), nginx ──
    const [upCmd, upArgs] = nodeTsx('upstream.ts');
    const upstream = group.spawn(upCmd, upArgs, { cwd: ROOT });
    const upstreamPort = Number((await upstream.line(/^listening (\d+)$/, 15_000))[1]);

    const oursPort = await freePort();
    const serve = group.spawn(process.execPath, [
      CLI,
      '--state-dir',
      stateDir,
      '--passphrase-file',
      passFile,
      'serve',
      '--listen',
      `127.0.0.1:${oursPort}`,
      '--upstream',
      `http://127.0.0.1:${upstreamPort}`,
      '--max-connections',
      '200',
      // The load and idle probes share one client certificate; nginx has no per-certificate cap.
      '--max-connections-per-identity',
      '200',
    ]);
    await serve.line(/^serving mTLS on /, 20_000);
    const gatewayPid = await waitFor('the gateway child', () => childPids(serve.pid)[0], 5000);
    group.adopt(gatewayPid);

    const ngPort = await freePort();
    const ngConf = await writeNginxConf({
      dir: ngDir,
      port: ngPort,
      upstreamPort,
      cert: path.join(ngDir, 'server.crt'),
      key: path.join(ngDir, 'server.key'),
      ca: path.join(ngDir, 'ca.crt'),
      crl: ngCrl,
    });
    const nginx: Spawned = group.spawn('/usr/sbin/nginx', [
      '-e',
      path.join(ngDir, 'error.log'),
      '-p',
      ngDir,
      '-c',
      ngConf,
      '-g',
      'daemon off;',
    ]);
    nginxMaster = nginx.pid;
    await waitFor('the nginx worker', () => childPids(nginxMaster)[0], 10_000);

    const ours: Server = { name: 'ours', port: oursPort, pids: () => [gatewayPid] };
    const theirs: Server = {
      name: 'nginx',
      port: ngPort,
      pids: () => [nginxMaster, ...childPids(nginxMaster)],
    };
    for (const s of [ours, theirs]) {
      let v = '';
      for (let i = 0; i < 50 && v !== 'ok'; i++) {
        v = await attempt(s.port, load.creds, 2000);
        if (v !== 'ok') await sleep(100);
      }
      if (v !== 'ok') throw new Error(`${s.name} does not answer the load client (${v})`);
    }

    dbg('servers up');
    // ── 3. memory with 50 open connections (fresh processes, before any load) ──
    const rss: Record<string, { idle: number; with50: number; detail: string }> = {};
    for (const s of [ours, theirs]) {
      const idle = s.pids().reduce((a, p) => a + rssKiB(p), 0);
      const socks = await openIdle(s.port, load.creds, 50);
      await sleep(300);
      const with50 = s.pids().reduce((a, p) => a + rssKiB(p), 0);
      const detail = s
        .pids()
        .map(
          (p) =>
            `${p === nginxMaster ? 'master' : s.name === 'nginx' ? 'worker' : 'gateway'} ${mib(rssKiB(p))}`,
        )
        .join(' + ');
      for (const sock of socks) sock.destroy();
      rss[s.name] = { idle, with50, detail };
      await sleep(200);
    }

    // ── 1 + 2. handshakes and keep-alive load, interleaved rounds ──
    const rounds: Record<'ours' | 'nginx', Round[]> = { ours: [], nginx: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const hs: Record<string, { perSec: number; perCpu: number; perCpuWithSup: number }> = {};
      for (const s of [ours, theirs]) {
        const pids = s.pids();
        const cpu0 = cpuOf(pids);
        const hsSup0 = cpuOf([serve.pid]);
        const t0 = performance.now();
        const runs = Array.from({ length: HANDSHAKE_CLIENTS }, () =>
          group.spawn('openssl', [
            's_time',
            '-connect',
            `127.0.0.1:${s.port}`,
            '-new',
            '-time',
            String(HANDSHAKE_SECONDS),
            '-cert',
            load.files.cert,
            '-key',
            load.files.key,
            '-CAfile',
            load.files.ca,
          ]),
        );
        await Promise.all(runs.map((p) => p.exited));
        const wall = (performance.now() - t0) / 1000;
        const cpu = cpuOf(pids) - cpu0;
        const hsSup = cpuOf([serve.pid]) - hsSup0;
        let total = 0;
        for (const p of runs) {
          const m = p.stdout.map((l) => /^(\d+) connections in [\d.]+s;/.exec(l)).find((x) => x);
          if (!m) throw new Error(`s_time against ${s.name} printed no count: ${p.stdout.join(' | ')}`);
          total += Number(m[1]);
        }
        hs[s.name] = { perSec: total / wall, perCpu: total / cpu, perCpuWithSup: total / (cpu + hsSup) };
        dbg(
          `round ${r} ${s.name} handshakes ${total} in ${wall.toFixed(1)} s, cpu ${cpu.toFixed(2)} (+serve ${hsSup.toFixed(2)})`,
        );
        await sleep(300);
      }
      for (const s of [ours, theirs]) {
        const pids = s.pids();
        const startAt = Date.now() + 2500;
        const workers = Array.from({ length: KA_PROCS }, () => {
          const [cmd, args] = nodeTsx(
            'load-worker.ts',
            JSON.stringify({
              port: s.port,
              ...load.files,
              conns: KA_CONNS_PER_PROC,
              startAt,
              durationMs: KA_MS,
            }),
          );
          return group.spawn(cmd, args, { cwd: ROOT });
        });
        await sleep(Math.max(0, startAt - Date.now()));
        const cpu0 = cpuOf(pids);
        const sup0 = cpuOf([serve.pid]);
        await sleep(Math.max(0, startAt + KA_MS - Date.now()));
        const cpu = cpuOf(pids) - cpu0;
        const sup = cpuOf([serve.pid]) - sup0;
        const lat: number[] = [];
        let errors = 0;
        for (const w of workers) {
          const code = await Promise.race([w.exited, sleep(15_000).then(() => 'timeout')]);
          const line = w.stdout.find((l) => l.startsWith('{'));
          if (code !== 0 || !line)
            throw new Error(`load worker against ${s.name} failed: ${w.stderr.join(' | ')}`);
          const res = JSON.parse(line) as { count: number; errors: number; latMs: number[] };
          for (const x of res.latMs) lat.push(x);
          errors += res.errors;
        }
        const h = hs[s.name]!;
        rounds[s.name].push({
          hsPerSec: h.perSec,
          hsPerCpuSec: h.perCpu,
          hsPerCpuSecWithSup: h.perCpuWithSup,
          kaRps: lat.length / (KA_MS / 1000),
          p50: median(lat),
          p99: percentile(lat, 99),
          cpuUsPerReq: (cpu / lat.length) * 1e6,
          kaErrors: errors,
          ...(s.name === 'ours' ? { supervisorUsPerReq: (sup / lat.length) * 1e6 } : {}),
        });
        dbg(`round ${r} ${s.name} keep-alive ${lat.length}`);
        await sleep(300);
      }
    }

    dbg('rounds done');
    // ── 4. revocation ──
    const ourRev = await revocationOurs(ours.port, victimOurs, () =>
      cli('revoke', '--serial', victimOurs.serial),
    );
    const ngRev = await revocationNginx(
      theirs.port,
      victimNginx,
      () => cli('revoke', '--serial', victimNginx.serial),
      () => cli('crl', '--out', ngCrl),
      () => process.kill(nginxMaster, 'SIGHUP'),
    );

    dbg('revocation done');
    // ── report ──
    const med = (name: 'ours' | 'nginx', k: keyof Round): number =>
      median(rounds[name].map((x) => x[k] ?? NaN));
    const row = (
      label: string,
      a: number,
      b: number,
      unit: string,
      digits: number,
      target?: string,
    ): string => {
      const ratio = a / b;
      const t = target ? `  target ${target}` : '';
      return `${label.padEnd(38)} ${num(a, digits).padStart(9)} ${num(b, digits).padStart(9)} ${unit.padEnd(6)} ${ratio.toFixed(2).padStart(6)}${t}`;
    };
    const ok = (pass: boolean): string => (pass ? '[met]' : '[MISSED]');
    const hsA = med('ours', 'hsPerCpuSec');
    const hsB = med('nginx', 'hsPerCpuSec');
    const kaA = med('ours', 'kaRps');
    const kaB = med('nginx', 'kaRps');
    const p99A = med('ours', 'p99');
    const p99B = med('nginx', 'p99');
    log(
      `ours = mtls-console gateway (one Node process); nginx = ${nginxVersion()} (Debian) worker_processes 1 (master+worker counted).`,
    );
    log(
      `Same CA (${algorithm}), TLS 1.3 only, 10,000 revoked serials (ssl_crl / revocation set), same upstream process, same clients;`,
    );
    log(
      `${ROUNDS} interleaved rounds, medians. ${os.cpus().length} CPUs shared by server, upstream and load clients. Server CPU from /proc utime+stime.`,
    );
    log(
      `${''.padEnd(38)} ${'ours'.padStart(9)} ${'nginx'.padStart(9)} ${''.padEnd(6)} ${'ratio'.padStart(6)}`,
    );
    log(
      row(
        `new handshakes/s (${HANDSHAKE_CLIENTS}× s_time -new, ${HANDSHAKE_SECONDS} s)`,
        med('ours', 'hsPerSec'),
        med('nginx', 'hsPerSec'),
        '/s',
        0,
      ),
    );
    log(row('handshakes per server CPU second', hsA, hsB, '/cpu·s', 0, `≥ 1.00 ${ok(hsA >= hsB)}`));
    log(row('  ours counting the serve process too', med('ours', 'hsPerCpuSecWithSup'), hsB, '/cpu·s', 0));
    log(
      row(
        `keep-alive req/s (${KA_PROCS * KA_CONNS_PER_PROC} conns, ${KA_MS / 1000} s)`,
        kaA,
        kaB,
        '/s',
        0,
        `≥ 0.80 ${ok(kaA >= 0.8 * kaB)}`,
      ),
    );
    log(row('  latency p50', med('ours', 'p50'), med('nginx', 'p50'), 'ms', 2));
    log(row('  latency p99', p99A, p99B, 'ms', 2, `≤ 1.00 ${ok(p99A <= p99B)}`));
    log(row('  proxy CPU per request', med('ours', 'cpuUsPerReq'), med('nginx', 'cpuUsPerReq'), 'µs', 1));
    log(
      `  (ours also: serve process — supervisor + audit writer — ${num(med('ours', 'supervisorUsPerReq'), 1)} µs CPU per request; ` +
        `errors ours ${sum(rounds.ours.map((x) => x.kaErrors))}, nginx ${sum(rounds.nginx.map((x) => x.kaErrors))})`,
    );
    const ra = rss['ours']!;
    const rb = rss['nginx']!;
    log(row('RSS idle', ra.idle / 1024, rb.idle / 1024, 'MiB', 1));
    log(row('RSS with 50 open connections', ra.with50 / 1024, rb.with50 / 1024, 'MiB', 1));
    log(`  (ours: ${ra.detail}; nginx: ${rb.detail})`);
    for (const name of ['ours', 'nginx'] as const) {
      const rs = rounds[name];
      log(
        `  rounds ${name}: hs/s ${rs.map((x) => num(x.hsPerSec, 0)).join(', ')}; hs/cpu·s ${rs.map((x) => num(x.hsPerCpuSec, 0)).join(', ')}; ` +
          `req/s ${rs.map((x) => num(x.kaRps, 0)).join(', ')}; p99 ${rs.map((x) => num(x.p99, 2)).join(', ')} ms`,
      );
    }
    log('revocation (target: enforced within 100 ms of `revoke` returning):');
    log(`  ours:  ${ourRev.summary} ${ok(ourRev.enforcedMs <= 100)}`);
    for (const l of ourRev.details) log(`         ${l}`);
    log(`  nginx: ${ngRev.summary}`);
    for (const l of ngRev.details) log(`         ${l}`);
  } finally {
    if (nginxMaster) for (const p of childPids(nginxMaster)) group.adopt(p);
    await group.reapAll();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

interface RevResult {
  summary: string;
  details: string[];
  enforcedMs: number;
}

/** Retries new handshakes of `c` back to back until one is not accepted; returns [ms since `from`, verdict, tries]. */
async function untilRefused(
  port: number,
  c: Client,
  from: number,
  boundMs: number,
): Promise<[number, string, number]> {
  let tries = 0;
  while (performance.now() - from < boundMs) {
    tries++;
    const v = await attempt(port, c.creds, 1000);
    if (v !== 'ok') return [performance.now() - from, v, tries];
  }
  return [NaN, 'still accepted', tries];
}

function closedAt(t: number, from: number, windowEnd: number, what: string): string {
  if (t === 0)
    return `${what}: still open and served after ${num((windowEnd - from) / 1000, 1)} s (never closed)`;
  const d = t - from;
  return d < 0
    ? `${what}: closed ${num(-d, 0)} ms BEFORE revoke returned`
    : `${what}: closed ${num(d, 0)} ms after revoke returned`;
}

async function revocationOurs(
  port: number,
  victim: Client,
  revoke: () => Promise<string>,
): Promise<RevResult> {
  const before = await attempt(port, victim.creds);
  if (before !== 'ok') throw new Error(`victim refused before revocation on ours (${before})`);
  const ka = await LiveKeepAlive.open(port, victim.creds, 20);
  const stream = await LiveStream.open(port, victim.creds);
  try {
    const t0 = performance.now();
    await revoke();
    const t1 = performance.now();
    const [refusedMs, verdict, tries] = await untilRefused(port, victim, t1, 3000);
    await waitFor(
      'live connections to close',
      () => (ka.closedAt && stream.closedAt ? true : undefined),
      2000,
    ).catch(() => undefined);
    const end = performance.now();
    const enforced = Math.max(
      refusedMs,
      ka.closedAt ? ka.closedAt - t1 : Infinity,
      stream.closedAt ? stream.closedAt - t1 : Infinity,
    );
    return {
      enforcedMs: enforced,
      summary:
        tries === 1 && !Number.isNaN(refusedMs)
          ? `new handshake refused on the first try after revoke returned (${verdict}, answer in ${num(refusedMs, 1)} ms); live connections closed too`
          : `new handshake refused ${num(refusedMs, 1)} ms after revoke returned (${verdict}, ${tries} tries)`,
      details: [
        `revoke CLI took ${num(t1 - t0, 0)} ms (one transaction: the revocation, the CRL signed at 10,001 entries, the audit records)`,
        closedAt(ka.closedAt, t1, end, 'live keep-alive conn (GET every 20 ms)'),
        closedAt(stream.closedAt, t1, end, 'live streaming response'),
      ],
    };
  } finally {
    ka.close();
    stream.close();
  }
}

async function revocationNginx(
  port: number,
  victim: Client,
  revoke: () => Promise<string>,
  crl: () => Promise<string>,
  reload: () => void,
): Promise<RevResult> {
  const before = await attempt(port, victim.creds);
  if (before !== 'ok') throw new Error(`victim refused before revocation on nginx (${before})`);
  const ka = await LiveKeepAlive.open(port, victim.creds, 20);
  const stream = await LiveStream.open(port, victim.creds);
  try {
    const t0 = performance.now();
    await revoke();
    const t1 = performance.now();
    await crl();
    const t2 = performance.now();
    reload();
    const t3 = performance.now();
    const [refusedMs, verdict, tries] = await untilRefused(port, victim, t1, 5000);
    // Watch the live connections for a bounded 5 s window after the refusal.
    const windowEnd = performance.now() + 5000;
    const kaOk0 = ka.ok;
    const ev0 = stream.events;
    while (performance.now() < windowEnd && !(ka.closedAt && stream.closedAt)) await sleep(50);
    const end = performance.now();
    const kaLine =
      ka.closedAt === 0
        ? `live keep-alive conn: still served (${ka.ok - kaOk0} more 200s) ${num((end - t1) / 1000, 1)} s after revoke — never closed`
        : `live keep-alive conn: closed ${num(ka.closedAt - t3, 0)} ms after the reload (the old worker's graceful exit closes EVERY idle keep-alive conn, revoked or not; ${ka.ok - kaOk0} more 200s after refusal)`;
    const streamLine =
      stream.closedAt === 0
        ? `live streaming response of the revoked client: still streaming (${stream.events - ev0} more events) ${num((end - t1) / 1000, 1)} s after revoke — never closed (old worker lingers until it ends)`
        : `live streaming response: closed ${num(stream.closedAt - t1, 0)} ms after revoke returned`;
    return {
      enforcedMs: refusedMs,
      summary: `new handshake refused ${num(refusedMs, 0)} ms after revoke returned (crl --out + reload; ${verdict}, ${tries} tries)`,
      details: [
        `revoke CLI ${num(t1 - t0, 0)} ms; crl --out ${num(t2 - t1, 0)} ms; SIGHUP → refusal ${num(refusedMs - (t3 - t1), 0)} ms`,
        `(refusal is HTTP 400 after a completed handshake: nginx's verify callback accepts and rejects per request)`,
        kaLine,
        streamLine,
      ],
    };
  } finally {
    ka.close();
    stream.close();
  }
}

function nginxVersion(): string {
  const r = spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' });
  return /nginx\/[\w.]+/.exec(`${r.stderr}${r.stdout}`)?.[0] ?? 'nginx';
}

const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const num = (x: number, digits: number): string =>
  Number.isFinite(x)
    ? x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '—';
