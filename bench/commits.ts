import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadSummarySchema } from './gateway/load-summary';
import { childPids, cpuOf, freePort, ProcessGroup } from './gateway/procs';
import { LatencyHistogram, spread, type Spread } from './stats';

/**
 * The gateway of several commits side by side (`npx tsx bench/commits.ts REV REV …`): each REV is
 * checked out in a git worktree, built, and its own `init`, `issue-client` and `serve` run in front of
 * the same loopback upstream (`.` is this checkout as built), loaded by the same keep-alive worker (32 raw-TLS connections, one
 * request outstanding each), in interleaved rounds. It uses only the CLI every version has, so it
 * compares versions whose state formats differ (issue 8: "report before and after").
 */

const ROOT = path.resolve(__dirname, '..');
const ROUNDS = Number(process.env['COMMITS_ROUNDS'] ?? 3);
const CONNS = 32;
const WARMUP_MS = 1000;
const DURATION_MS = 5000;
const PASSPHRASE = 'commits bench passphrase';

interface Row {
  rps: number;
  gatewayUs: number;
  serveUs: number;
  p99: number;
}

async function upstream(): Promise<{ url: string; close: () => void }> {
  const body = '{"ok":true}\n';
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/** `.` is this checkout as it is (built by `npm run bench`); anything else a worktree of that commit. */
async function prepare(rev: string, dir: string): Promise<string> {
  if (rev === '.') return ROOT;
  execFileSync('git', ['worktree', 'add', '--detach', dir, rev], { cwd: ROOT, stdio: 'ignore' });
  await fs.symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'electron-vite'), ['build'], {
    cwd: dir,
    stdio: 'ignore',
  });
  return dir;
}

async function round(tree: string, up: string, group: ProcessGroup): Promise<Row> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mtls-commits-'));
  const pass = path.join(tmp, 'passphrase');
  await fs.writeFile(pass, `${PASSPHRASE}\n`, { mode: 0o600 });
  const cli = [
    path.join(tree, 'bin', 'mtls-console.cjs'),
    '--state-dir',
    path.join(tmp, 'state'),
    '--passphrase-file',
    pass,
  ];
  const run = (...args: string[]): string =>
    execFileSync(process.execPath, [...cli, ...args], { cwd: tmp, encoding: 'utf8' });
  try {
    run('init', '--hosts', 'localhost,127.0.0.1');
    run('issue-client', '--name', 'load', '--out-dir', path.join(tmp, 'c'));
    const help = run('serve', '--help');
    const port = await freePort();
    const extra = help.includes('--max-connections-per-identity')
      ? ['--max-connections-per-identity', '64']
      : [];
    const serve = group.spawn(
      process.execPath,
      [...cli, 'serve', '--listen', `127.0.0.1:${port}`, '--upstream', up, ...extra],
      {
        cwd: tmp,
      },
    );
    await serve.line(/serving mTLS on/, 30_000);
    const gateway = childPids(serve.pid);
    const files = {
      cert: path.join(tmp, 'c', 'load.crt'),
      key: path.join(tmp, 'c', 'load.key'),
      ca: path.join(tmp, 'c', 'ca.crt'),
    };
    const load = group.spawn(process.execPath, [
      '--import',
      'tsx',
      path.join(__dirname, 'gateway', 'load-worker.ts'),
      JSON.stringify({ port, ...files, conns: CONNS, warmupMs: WARMUP_MS, durationMs: DURATION_MS }),
    ]);
    const w = await load.line(/^window (\d+) (\d+)$/, 30_000);
    const [start, end] = [Number(w[1]), Number(w[2])];
    await new Promise((r) => setTimeout(r, Math.max(0, start - Date.now())));
    const g0 = cpuOf(gateway);
    const s0 = cpuOf([serve.pid]);
    await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
    const g = cpuOf(gateway) - g0;
    const s = cpuOf([serve.pid]) - s0;
    await load.exited;
    const summary = loadSummarySchema.parse(JSON.parse(load.stdout.at(-1) ?? '{}'));
    serve.child.kill('SIGTERM');
    await serve.exited;
    const n = Math.max(1, summary.count);
    return {
      rps: summary.count / ((end - start) / 1000),
      gatewayUs: (g / n) * 1e6,
      serveUs: (s / n) * 1e6,
      p99: LatencyHistogram.fromPairs(summary.hist).percentile(99),
    };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

const show = (s: Spread, digits: number): string =>
  `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}–${s.max.toFixed(digits)}]`;

async function main(): Promise<void> {
  const revs = process.argv.slice(2);
  if (revs.length === 0) throw new Error('usage: npx tsx bench/commits.ts REV [REV …]');
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'mtls-commits-trees-'));
  const trees = revs.map((rev, i) => ({ rev, dir: path.join(base, String(i)) }));
  const made = trees.map((t) => t.dir);
  const group = new ProcessGroup();
  const up = await upstream();
  try {
    for (const t of trees) t.dir = await prepare(t.rev, t.dir);
    const rows = new Map<string, Row[]>(revs.map((r) => [r, []]));
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate the order so neither side always runs on a warmer machine.
      for (const t of r % 2 === 0 ? trees : [...trees].reverse())
        rows.get(t.rev)!.push(await round(t.dir, up.url, group));
    }
    console.log(
      `${ROUNDS} interleaved rounds, ${CONNS} keep-alive connections, ${DURATION_MS / 1000} s each; median [min–max]`,
    );
    console.log(
      'rev'.padEnd(14) +
        'req/s'.padEnd(26) +
        'gateway µs/req'.padEnd(24) +
        'serve µs/req'.padEnd(24) +
        'p99 ms',
    );
    for (const rev of revs) {
      const xs = rows.get(rev)!;
      console.log(
        rev.slice(0, 12).padEnd(14) +
          show(spread(xs.map((x) => x.rps)), 0).padEnd(26) +
          show(spread(xs.map((x) => x.gatewayUs)), 1).padEnd(24) +
          show(spread(xs.map((x) => x.serveUs)), 1).padEnd(24) +
          show(spread(xs.map((x) => x.p99)), 2),
      );
    }
  } finally {
    up.close();
    await group.reapAll();
    for (const dir of made) {
      try {
        execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    await fs.rm(base, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
