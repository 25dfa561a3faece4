import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** Process helpers for the gateway benchmark: free ports, /proc figures, children that are always reaped. */

const CLK_TCK = 100; // Linux USER_HZ; `getconf CLK_TCK` is 100 on every mainstream kernel.

/** A free 127.0.0.1 port: bind port 0, read it, release it. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** utime+stime of one process in seconds (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Busy time of one CPU in seconds since boot (user, nice, system, irq, softirq, steal); NaN if unknown. */
export function coreBusySeconds(cpu: string): number {
  try {
    const line = fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    if (!line) return NaN;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / CLK_TCK;
  } catch {
    return NaN;
  }
}

export const cpuOf = (pids: readonly number[]): number => pids.reduce((s, p) => s + cpuSeconds(p), 0);

/** VmRSS in KiB (0 when the process is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Memory of one process in KiB (zeros when it is gone): RSS split into anonymous pages (heaps,
 * buffers: what the process itself allocated) and file pages (mostly its executable's code, shared
 * with every other process running the same binary), and PSS, which splits shared pages among the
 * processes that map them.
 */
export function memKiB(pid: number): { rss: number; anon: number; file: number; pss: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (text: string, name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? 0);
    let pss = 0;
    try {
      pss = field(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
    } catch {
      // no smaps_rollup (old kernel): PSS unknown
    }
    return {
      rss: field(status, 'VmRSS'),
      anon: field(status, 'RssAnon'),
      file: field(status, 'RssFile') + field(status, 'RssShmem'),
      pss,
    };
  } catch {
    return { rss: 0, anon: 0, file: 0, pss: 0 };
  }
}

/** Direct children of a process, from /proc/<pid>/task/<tid>/children. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/** The CPUs a process may run on, as the kernel reports it (`0-1`, `1`); '?' when it is gone. */
export function cpusAllowed(pid: number): string {
  try {
    return /Cpus_allowed_list:\s+(\S+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** A process's command line, NUL-separated in /proc ([] when it is gone). */
export function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Which CPU the load clients and which the servers get, or why they share every CPU. */
export type CorePlan =
  | { readonly pinned: true; readonly client: string; readonly server: string }
  | { readonly pinned: false; readonly reason: string };

/**
 * Client and servers on separate cores when `taskset` exists and this process may use at least two
 * CPUs: the first allowed CPU for the load clients, the last for the servers (children inherit it).
 */
export function planCores(): CorePlan {
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0)
    return { pinned: false, reason: 'taskset is not installed' };
  const nproc = spawnSync('nproc', [], { encoding: 'utf8' });
  const n = Number(nproc.stdout?.trim());
  if (nproc.status !== 0 || !(n >= 2))
    return { pinned: false, reason: `nproc reports ${nproc.stdout?.trim() || '?'} CPU` };
  const allowed = expandCpuList(cpusAllowed(process.pid));
  if (allowed.length < 2)
    return { pinned: false, reason: `this process may only use CPU ${allowed.join(',')}` };
  return { pinned: true, client: String(allowed[0]), server: String(allowed[allowed.length - 1]) };
}

function expandCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** Moves every thread of a running process (e.g. this one) onto `cpus`; false when taskset refuses. */
export const pinProcess = (pid: number, cpus: string): boolean =>
  spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0;

export const alive = (pid: number): boolean => fs.existsSync(`/proc/${pid}`);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every `everyMs` until it returns a value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined,
  timeoutMs: number,
  everyMs = 20,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface Spawned {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the first stdout line matching `re` (rejects on exit or timeout). */
  line(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly exited: Promise<number | null>;
}

/** Every process the benchmark started; `reapAll` ends them (and their children) in `finally`. */
export class ProcessGroup {
  private readonly procs: Spawned[] = [];
  /** Extra pids to end (children we did not spawn ourselves, e.g. nginx's worker, the gateway child). */
  private readonly extra = new Set<number>();

  /** `opts.cpus` runs the command under `taskset -c` (taskset execs it: same pid, inherited by its children). */
  spawn(cmd: string, args: readonly string[], opts: { cwd?: string; cpus?: string } = {}): Spawned {
    const argv = opts.cpus === undefined ? [cmd, ...args] : ['taskset', '-c', opts.cpus, cmd, ...args];
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
    const stdout: string[] = [];
    const stderr: string[] = [];
    const waiters: Array<{ re: RegExp; resolve: (m: RegExpExecArray) => void }> = [];
    createInterface({ input: child.stdout! }).on('line', (l) => {
      stdout.push(l);
      for (const w of [...waiters]) {
        const m = w.re.exec(l);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
    // 'close', not 'exit': stdout is fully read by then.
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    child.on('error', () => undefined);
    const sp: Spawned = {
      child,
      pid: child.pid,
      stdout,
      stderr,
      exited,
      line: (re, timeoutMs) =>
        new Promise((resolve, reject) => {
          for (const l of stdout) {
            const m = re.exec(l);
            if (m) return resolve(m);
          }
          const timer = setTimeout(
            () => reject(new Error(`${path.basename(cmd)}: no ${re} in time`)),
            timeoutMs,
          );
          const w = {
            re,
            resolve: (m: RegExpExecArray) => {
              clearTimeout(timer);
              resolve(m);
            },
          };
          waiters.push(w);
          void exited.then((code) => {
            if (!waiters.includes(w)) return;
            clearTimeout(timer);
            reject(new Error(`${path.basename(cmd)} exited (${code}): ${stderr.slice(-5).join(' | ')}`));
          });
        }),
    };
    this.procs.push(sp);
    return sp;
  }

  adopt(pid: number): void {
    this.extra.add(pid);
  }

  /** Polite signal first, SIGKILL after `graceMs` for anything (ours or adopted) still alive. */
  async reapAll(graceMs = 3000): Promise<void> {
    const live = this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    for (const p of live) p.child.kill('SIGTERM');
    const end = Date.now() + graceMs;
    while (Date.now() < end && [...live.map((p) => p.pid), ...this.extra].some(alive)) await sleep(25);
    for (const p of live) if (alive(p.pid)) p.child.kill('SIGKILL');
    for (const pid of this.extra) {
      try {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
