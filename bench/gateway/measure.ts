import path from 'node:path';
import { LatencyHistogram } from '../stats';
import { loadSummarySchema, type LoadSummary } from './load-summary';
import type { Client } from './pki';
import {
  coreBusySeconds,
  cpuOf,
  cpuSeconds,
  memKiB,
  rssKiB,
  sleep,
  type ProcessGroup,
  type Spawned,
} from './procs';

/**
 * The measured phases of the gateway benchmark, each against one server: new handshakes
 * (openssl s_time), keep-alive load (the raw-TLS load worker) and memory under load. Server CPU is
 * read from /proc (utime + stime) over exactly the window the load client counts in.
 */

export interface Server {
  readonly name: 'ours' | 'nginx';
  readonly port: number;
  /** Every process of this server: ours the gateway child + `serve` (supervisor, audit writer); nginx master + worker. */
  all(): number[];
  /** The processes doing the TLS and proxy work: ours the gateway child; nginx master + worker. */
  proxy(): number[];
  /** The process the connections' memory lands in: ours the gateway child; nginx its worker. */
  memory(): number;
}

export interface Env {
  readonly group: ProcessGroup;
  /** The CPU of the load clients and the one of the servers, when pinning (`taskset -c` lists). */
  readonly clientCpus: string | undefined;
  readonly serverCpus: string | undefined;
  readonly load: Client;
  /** The upstream's processes (on the client core when pinning). */
  upstreamPids(): number[];
}

export interface HandshakeFigures {
  readonly perSec: number;
  /** Per CPU second of every process of the server. */
  readonly perCpuAll: number;
  /** Per CPU second of the proxy processes only (ours: the gateway child without `serve`). */
  readonly perCpuProxy: number;
}

export async function handshakes(
  env: Env,
  s: Server,
  clients: number,
  seconds: number,
): Promise<HandshakeFigures> {
  const all0 = cpuOf(s.all());
  const proxy0 = cpuOf(s.proxy());
  const t0 = performance.now();
  const runs = Array.from({ length: clients }, () =>
    env.group.spawn(
      'openssl',
      [
        's_time',
        '-connect',
        `127.0.0.1:${s.port}`,
        '-new',
        '-time',
        String(seconds),
        '-cert',
        env.load.files.cert,
        '-key',
        env.load.files.key,
        '-CAfile',
        env.load.files.ca,
      ],
      { cpus: env.clientCpus },
    ),
  );
  const codes = await Promise.all(runs.map((p) => exitWithin(p, (seconds + 20) * 1000)));
  const wall = (performance.now() - t0) / 1000;
  const all = cpuOf(s.all()) - all0;
  const proxy = cpuOf(s.proxy()) - proxy0;
  let total = 0;
  runs.forEach((p, i) => {
    const m = p.stdout.map((l) => /^(\d+) connections in [\d.]+s;/.exec(l)).find((x) => x);
    if (codes[i] !== 0 || !m)
      throw new Error(`s_time against ${s.name} failed (${codes[i]}): ${p.stdout.slice(-3).join(' | ')}`);
    total += Number(m[1]);
  });
  return { perSec: total / wall, perCpuAll: total / all, perCpuProxy: total / proxy };
}

export interface KeepAliveFigures {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** µs of CPU per request, every process of the server. */
  readonly cpuUsAll: number;
  /** µs of CPU per request, the proxy processes only. */
  readonly cpuUsProxy: number;
  /** µs of CPU per request of the load worker and of the upstream (both on the client core). */
  readonly clientUs: number;
  readonly upstreamUs: number;
  /** Share of one CPU the server's processes / the client core's processes used in the window. */
  readonly serverBusy: number;
  readonly clientBusy: number;
  /** Share of each pinned core used by anything else (other work on the machine); NaN unpinned. */
  readonly otherOnServerCore: number;
  readonly otherOnClientCore: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** All 200 responses, warm-up and drain included (to compare with the audit records written). */
  readonly total: number;
}

export async function keepAlive(
  env: Env,
  s: Server,
  conns: number,
  durationMs: number,
  warmupMs: number,
): Promise<KeepAliveFigures> {
  const w = startLoad(env, s, conns, warmupMs, durationMs);
  const { startAt, endAt } = await w.window;
  const sample = (): number[] => [
    cpuOf(s.all()),
    cpuOf(s.proxy()),
    cpuSeconds(w.proc.pid),
    cpuOf(env.upstreamPids()),
    env.serverCpus === undefined ? NaN : coreBusySeconds(env.serverCpus),
    env.clientCpus === undefined ? NaN : coreBusySeconds(env.clientCpus),
    Date.now(),
  ];
  await sleep(startAt - Date.now());
  const a = sample();
  await sleep(endAt - Date.now());
  const b = sample();
  const res = await w.summary;
  if (res.count === 0)
    throw new Error(`no request against ${s.name} completed in the window (${res.firstError ?? '?'})`);
  // CPU was read over [a, b] (a few ms off the client's window when this loop wakes late): scale to it.
  const windowS = (b[6]! - a[6]!) / 1000;
  const cpu = (i: number): number => ((b[i]! - a[i]!) / windowS) * (durationMs / 1000);
  const h = LatencyHistogram.fromPairs(res.hist);
  const us = (i: number): number => (cpu(i) / res.count) * 1e6;
  return {
    rps: res.count / (durationMs / 1000),
    p50: h.percentile(50),
    p99: h.percentile(99),
    cpuUsAll: us(0),
    cpuUsProxy: us(1),
    clientUs: us(2),
    upstreamUs: us(3),
    serverBusy: cpu(0) / (durationMs / 1000),
    clientBusy: (cpu(2) + cpu(3)) / (durationMs / 1000),
    otherOnServerCore: Math.max(0, cpu(4) - cpu(0)) / (durationMs / 1000),
    otherOnClientCore: Math.max(0, cpu(5) - cpu(2) - cpu(3)) / (durationMs / 1000),
    errors: res.errors,
    firstError: res.firstError,
    total: res.total,
  };
}

export interface MemoryFigures {
  /** Peak RSS (KiB) of `memory()` while `conns` connections were busy. */
  readonly peakKiB: number;
  /** Peak of the sum over every process of the server. */
  readonly peakAllKiB: number;
  /** At the peak: the RSS's anonymous and file-backed parts, and the peak PSS. */
  readonly anonKiB: number;
  readonly fileKiB: number;
  readonly pssKiB: number;
  readonly errors: number;
  readonly total: number;
}

export async function busyMemory(
  env: Env,
  s: Server,
  conns: number,
  durationMs: number,
  warmupMs: number,
): Promise<MemoryFigures> {
  const w = startLoad(env, s, conns, warmupMs, durationMs);
  const { startAt, endAt } = await w.window;
  await sleep(startAt - Date.now());
  let peak = 0;
  let peakAll = 0;
  let split = { anon: 0, file: 0 };
  let pss = 0;
  while (Date.now() < endAt) {
    const m = memKiB(s.memory());
    if (m.rss > peak) {
      peak = m.rss;
      split = { anon: m.anon, file: m.file };
    }
    pss = Math.max(pss, m.pss);
    peakAll = Math.max(
      peakAll,
      s.all().reduce((sum, p) => sum + rssKiB(p), 0),
    );
    await sleep(100);
  }
  const res = await w.summary;
  return {
    peakKiB: peak,
    peakAllKiB: peakAll,
    anonKiB: split.anon,
    fileKiB: split.file,
    pssKiB: pss,
    errors: res.errors,
    total: res.total,
  };
}

interface LoadRun {
  readonly proc: Spawned;
  readonly window: Promise<{ startAt: number; endAt: number }>;
  readonly summary: Promise<LoadSummary>;
}

/** Starts the load worker (TypeScript through tsx's loader) on the client core. */
function startLoad(env: Env, s: Server, conns: number, warmupMs: number, durationMs: number): LoadRun {
  const args = JSON.stringify({ port: s.port, ...env.load.files, conns, warmupMs, durationMs });
  const proc = env.group.spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'load-worker.ts'), args],
    { cwd: path.resolve(__dirname, '..', '..'), cpus: env.clientCpus },
  );
  const window = proc
    .line(/^window (\d+) (\d+)$/, 20_000)
    .then((m) => ({ startAt: Number(m[1]), endAt: Number(m[2]) }));
  const summary = window.then(async () => {
    const code = await exitWithin(proc, durationMs + warmupMs + 20_000);
    const line = proc.stdout.find((l) => l.startsWith('{'));
    if (code !== 0 || !line)
      throw new Error(`load worker against ${s.name} failed (${code}): ${proc.stderr.slice(-5).join(' | ')}`);
    return loadSummarySchema.parse(JSON.parse(line));
  });
  // The window's rejection is reported through `summary` too; do not let it go unhandled here.
  summary.catch(() => undefined);
  return { proc, window, summary };
}

/** The exit code, or 'timeout' once `ms` pass (the process group reaps it later). */
async function exitWithin(p: Spawned, ms: number): Promise<number | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
