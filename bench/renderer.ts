import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { chromium, type Browser } from 'playwright-core';
import { build, type Plugin } from 'vite';
import { fmt, median, percentile } from './stats';
import type { MountResult, ScrollResult, UpdateResult } from './renderer/types';

const here = path.dirname(fileURLToPath(import.meta.url));
const pageRoot = path.join(here, 'renderer');

const AUDIT_RECORDS = 100_000;
const AUDIT_RUNS = 5;
const SCROLL_FRAMES = 300;
const SCROLL_PX = 150; // 5 rows of 30 px per frame
const CONNECTIONS = 50;
const CONNECTION_UPDATES = 300;
const VIEWPORT = { width: 1280, height: 800 };
const STEP_TIMEOUT_MS = 120_000;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
};

/**
 * Swaps `react-dom/client` for `react-dom/profiling` (same API, production speed, but <Profiler>
 * reports render + commit durations). A plugin rather than `resolve.alias`: the alias was not
 * applied when this file ran under tsx (as `npm run bench` runs it); the plugin is.
 */
function profilingReactDom(): Plugin {
  return {
    name: 'bench-profiling-react-dom',
    enforce: 'pre',
    resolveId(source, importer, options) {
      if (source !== 'react-dom/client') return null;
      return this.resolve('react-dom/profiling', importer, { ...options, skipSelf: true });
    },
  };
}

/** Builds the bench page (production mode, React's profiling renderer so <Profiler> reports). */
async function buildPage(outDir: string): Promise<void> {
  await build({
    root: pageRoot,
    configFile: false,
    envDir: false,
    logLevel: 'warn',
    base: './',
    mode: 'production',
    plugins: [profilingReactDom(), react()],
    build: {
      outDir,
      emptyOutDir: true,
      reportCompressedSize: false,
      chunkSizeWarningLimit: 4096,
      // Chromium supports modulepreload natively; the polyfill import does not resolve from here.
      modulePreload: { polyfill: false },
    },
  });
}

/** Serves `dir` on 127.0.0.1 with an OS-assigned port. */
async function serve(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = path.resolve(dir, '.' + (urlPath === '/' ? '/index.html' : urlPath));
      if (!file.startsWith(dir + path.sep)) {
        res.writeHead(403).end();
        return;
      }
      try {
        const body = await fs.readFile(file);
        res.writeHead(200, {
          'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
          'cache-control': 'no-store',
        });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/index.html`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Renderer benchmarks (issue: "time to first render of the Audit panel at 100,000 records and frame
 * time while scrolling; Connections panel update cost with 50 live connections"). Runs the panels in
 * Debian's headless Chromium (software rendering), so figures are a floor for a real GPU-less box.
 */
export async function benchRenderer(log: (line: string) => void): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mtls-bench-renderer-'));
  let server: { url: string; close: () => Promise<void> } | null = null;
  let browser: Browser | null = null;
  try {
    await buildPage(tmp);
    server = await serve(tmp);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: VIEWPORT });
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(server.url);
    await page.waitForFunction(() => window.__bench !== undefined);
    const check = () => {
      if (errors.length > 0) throw new Error(`bench page error: ${errors.join('; ')}`);
    };

    // Audit: first render against a 100,000-record log (a warm-up run first, not counted). The store
    // holds only the first page; the stubbed `audit.query` answers from the page on a later task.
    await page.evaluate((n) => window.__bench!.mountAudit(n), AUDIT_RECORDS);
    const mounts: MountResult[] = [];
    for (let r = 0; r < AUDIT_RUNS; r++) {
      mounts.push(await page.evaluate((n) => window.__bench!.mountAudit(n), AUDIT_RECORDS));
    }
    check();
    const rows = mounts[0]?.rows ?? 0;
    if (rows === 0) throw new Error('the Audit panel rendered no rows');
    log(
      `audit panel first render, ${AUDIT_RECORDS.toLocaleString('en')}-record log: median ${fmt(median(mounts.map((m) => m.ms)))} ` +
        `(min ${fmt(Math.min(...mounts.map((m) => m.ms)))}, max ${fmt(Math.max(...mounts.map((m) => m.ms)))}; ` +
        `React render+commit ${fmt(median(mounts.map((m) => m.reactMs)))}; ${rows} rows in the DOM, ` +
        `${mounts[0]?.loaded ?? '?'} records loaded in ${mounts[0]?.queries ?? '?'} queries; ${AUDIT_RUNS} runs)`,
    );

    // Audit: frame time while scrolling the last mounted list; older pages load as it nears the end.
    const scroll: ScrollResult = await page.evaluate(
      ([frames, px]) => window.__bench!.scrollAudit(frames, px),
      [SCROLL_FRAMES, SCROLL_PX] as const,
    );
    check();
    const d = scroll.deltas;
    const budget = 1000 / 60;
    const long = d.filter((x) => x > budget * 1.5).length;
    log(
      `audit scroll frame time: p50 ${fmt(percentile(d, 50))}, p95 ${fmt(percentile(d, 95))}, max ${fmt(Math.max(...d))} ` +
        `over ${d.length} frames (${SCROLL_PX} px/frame, ${long} frames over 1.5× the 60 Hz budget, ` +
        `scrolled ${scroll.scrolled.toLocaleString('en')} px to seq ${scroll.lastSeq ?? '?'}; ` +
        `${scroll.pages} older pages loaded, ${scroll.loaded.toLocaleString('en')} records held, ` +
        `${scroll.stalled} frames held up at the loaded end)`,
    );

    // Audit: a filter change (debounce skipped) to the first paint of its first page.
    const filters: MountResult[] = [];
    for (const type of ['gateway.connection.refused', 'client.revoked', 'gateway.request']) {
      filters.push(await page.evaluate((t) => window.__bench!.filterAudit(t), type));
    }
    check();
    log(
      `audit filter change to painted first page: median ${fmt(median(filters.map((m) => m.ms)))}, ` +
        `max ${fmt(Math.max(...filters.map((m) => m.ms)))} (React render+commit median ` +
        `${fmt(median(filters.map((m) => m.reactMs)))}; ${filters.length} type filters; the stub filters ` +
        `the whole log in the page, so this includes a scan main would do in SQLite)`,
    );

    // Connections: one store update per frame with 50 live connections.
    const mountConn = await page.evaluate((n) => window.__bench!.mountConnections(n), CONNECTIONS);
    if (mountConn.rows !== CONNECTIONS) throw new Error(`connections table shows ${mountConn.rows} rows`);
    const upd: UpdateResult = await page.evaluate(
      (n) => window.__bench!.updateConnections(n),
      CONNECTION_UPDATES,
    );
    check();
    log(
      `connections panel update with ${CONNECTIONS} live connections: median ${fmt(median(upd.ms))} per update, ` +
        `p95 ${fmt(percentile(upd.ms, 95))} (${upd.ms.length} updates, store update to painted frame; ` +
        `React render+commit median ${fmt(median(upd.reactMs))}, p95 ${fmt(percentile(upd.reactMs, 95))}; ` +
        `first mount ${fmt(mountConn.ms)})`,
    );
    await page.evaluate(() => window.__bench!.reset());
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
