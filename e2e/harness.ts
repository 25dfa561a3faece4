import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium, _electron, type Browser, type ElectronApplication, type Page } from '@playwright/test';
import { CALL_NAME_LIST, EVENT_NAME_LIST } from '../src/shared/channels';
import { RENDERER_CSP } from '../src/shared/csp';
import type { EventName, EventPayloads } from '../src/shared/contract';
import { createEventGate, createIpcDispatcher, createSenderPolicy } from '../src/main/electron/ipc';
import { ConsoleService, createVaultResolver } from '../src/main/service';
import { ForkLauncher } from '../src/main/gateway';
import { E2E_TARGET, electronBinary, type Target } from './target';

export { E2E_TARGET, electronBinary, type Target };

/**
 * Two ways to drive the built UI with the same specs (DESIGN.md §11):
 * - `chromium` (default): Debian's Chromium loads `out/renderer` over http, and `window.mtls` is
 *   bridged to a real ConsoleService in this process (real state dir, passphrase vault, real gateway
 *   process, real TLS) through the app's own `createIpcDispatcher`, so validation and error mapping
 *   are the app's.
 * - `electron` (the `electron` project of playwright.config.ts, run by run.cjs when a binary exists):
 *   the packaged entry `out/main/index.js` via Playwright's `_electron`, with the native dialogs stubbed.
 * Specs get a harness from the fixtures in ./fixtures.ts.
 */

export const ROOT = path.resolve(__dirname, '..');
export const SCREENSHOTS = path.join(ROOT, 'e2e', 'screenshots');
const RENDERER_DIR = path.join(ROOT, 'out', 'renderer');

export interface Harness {
  readonly target: Target;
  readonly page: Page;
  readonly stateDir: string;
  /**
   * The real ConsoleService behind the page (Chromium bridge only; `null` under Electron, where it
   * lives in the app's main process). For setup and for reading back what the UI did.
   */
  readonly service: ConsoleService | null;
  /** What the stubbed "choose export folder" dialog answers. */
  readonly exportDir: string;
  /** Console errors and uncaught page errors (CSP violations land here). */
  readonly pageErrors: string[];
  /** Writes e2e/screenshots/<screen>.png (`electron-<screen>.png` under Electron), full page. */
  screenshot(screen: string): Promise<string>;
  /** Resizes the window's content area (the viewport). */
  resize(width: number, height: number): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** The window's size (default 1280×820). */
  readonly viewport?: { readonly width: number; readonly height: number };
}

const DEFAULT_VIEWPORT = { width: 1280, height: 820 };

export async function startHarness(target: Target = E2E_TARGET, opts: HarnessOptions = {}): Promise<Harness> {
  for (const built of [path.join(RENDERER_DIR, 'index.html'), path.join(ROOT, 'out', 'main', 'gateway.js')]) {
    if (!fs.existsSync(built))
      throw new Error(`${path.relative(ROOT, built)} is missing: run \`npx electron-vite build\` first`);
  }
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'mtls-e2e-'));
  const stateDir = path.join(tmp, 'state');
  const exportDir = path.join(tmp, 'export');
  await fsp.mkdir(exportDir, { recursive: true });
  const base = { stateDir, exportDir, tmp, viewport: opts.viewport ?? DEFAULT_VIEWPORT };
  return target === 'electron' ? startElectron(base) : startChromiumBridge(base);
}

interface Base {
  readonly stateDir: string;
  readonly exportDir: string;
  readonly tmp: string;
  readonly viewport: { readonly width: number; readonly height: number };
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(`${err.name}: ${err.message}`));
  return errors;
}

function screenshotter(page: Page, prefix: string): (screen: string) => Promise<string> {
  return async (screen) => {
    await fsp.mkdir(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, `${prefix}${screen}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };
}

// ---------------------------------------------------------------------------------------------
// Chromium + bridge

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
};

/** Serves out/renderer read-only, with the app's CSP, on 127.0.0.1 at a free port. */
async function serveRenderer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const rel = pathname === '/' ? 'index.html' : pathname.replace(/^\/+/, '');
    const file = path.resolve(RENDERER_DIR, rel);
    if (!file.startsWith(RENDERER_DIR + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Security-Policy': RENDERER_CSP,
      'Cache-Control': 'no-store',
    });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('renderer server has no port');
  return {
    url: `http://127.0.0.1:${addr.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Runs in the page before its scripts: the same `window.mtls` shape the preload exposes. */
function installBridge(arg: { calls: readonly string[]; events: readonly string[] }): void {
  type Listener = (payload: unknown) => void;
  type Bridge = {
    __mtlsInvoke(channel: string, input: unknown): Promise<unknown>;
    __mtlsReady(event: string): Promise<void>;
  };
  const w = window as unknown as Bridge & Record<string, unknown>;
  const listeners = new Map<string, Set<Listener>>();
  const subscribed = new Set<string>();
  const call: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const name of arg.calls) {
    call[name] = (input) =>
      w.__mtlsInvoke('mtls:' + name, input).catch(() => ({
        ok: false,
        error: { code: 'INTERNAL', message: `IPC call ${name} failed` },
      }));
  }
  const on = (event: string, listener: Listener): (() => void) => {
    if (!arg.events.includes(event)) throw new Error(`unknown event "${event}"`);
    const set = listeners.get(event) ?? new Set<Listener>();
    listeners.set(event, set);
    // A fresh wrapper per subscription, so subscribing one function twice needs two unsubscribes, as with ipcRenderer.on.
    const wrapper: Listener = (p) => listener(p);
    set.add(wrapper);
    if (!subscribed.has(event)) {
      subscribed.add(event);
      void w.__mtlsReady(event);
    }
    return () => set.delete(wrapper);
  };
  Object.defineProperty(window, '__mtlsEmit', {
    value: (event: string, payload: unknown) => {
      for (const l of listeners.get(event) ?? []) {
        try {
          l(payload);
        } catch (e) {
          console.error(e);
        }
      }
    },
  });
  Object.defineProperty(window, 'mtls', {
    value: Object.freeze({ call: Object.freeze(call), on }),
    enumerable: true,
  });
}

/** A stand-in for the app window's webContents id: the bridge has exactly one page. */
const BRIDGE_WC_ID = 1;

async function startChromiumBridge(base: Base): Promise<Harness> {
  const server = await serveRenderer();
  const service = new ConsoleService({
    stateDir: base.stateDir,
    vaults: createVaultResolver({}),
    operator: 'e2e-operator',
    // The built gateway bundle, as the app ships it (the service runs from source here).
    gatewayLauncher: new ForkLauncher(path.join(ROOT, 'out', 'main', 'gateway.js')),
    dialogs: {
      chooseExportDir: async () => base.exportDir,
      chooseAuditExportFile: async (format) => path.join(base.tmp, `audit-export.${format}`),
    },
  });
  const dispatcher = createIpcDispatcher({
    handle: (c, input) => service.handle(c, input),
    isAllowedSender: createSenderPolicy({ webContentsId: () => BRIDGE_WC_ID, appUrl: server.url }),
    onInternalError: (c, e) => console.error(`e2e bridge: ${c} failed:`, e),
  });

  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({
      executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // A context of our own (not browser.newPage's owned one): axe-core opens a helper page in it.
    const context = await browser.newContext({ viewport: base.viewport });
    const page = await context.newPage();
    const pageErrors = watchErrors(page);

    const gate = createEventGate(<E extends EventName>(event: E, payload: EventPayloads[E]) => {
      page
        .evaluate(
          ([e, p]) => (window as unknown as { __mtlsEmit(e: string, p: unknown): void }).__mtlsEmit(e, p),
          [event, payload] as const,
        )
        .catch(() => undefined); // the page is closing
    });
    const offs = EVENT_NAME_LIST.map((name) => service.on(name, (payload) => gate.emit(name, payload)));
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) gate.reset();
    });

    await page.exposeBinding('__mtlsInvoke', (source, channel: unknown, input: unknown) =>
      dispatcher.dispatch(
        String(channel),
        {
          url: source.frame.url(),
          webContentsId: BRIDGE_WC_ID,
          isMainFrame: source.frame === source.page.mainFrame(),
        },
        input,
      ),
    );
    await page.exposeBinding('__mtlsReady', (source, event: unknown) => {
      if (source.frame === source.page.mainFrame() && typeof event === 'string') gate.ready(event);
    });
    await page.addInitScript(installBridge, { calls: CALL_NAME_LIST, events: EVENT_NAME_LIST });
    await page.goto(server.url);

    const b = browser;
    return {
      target: 'chromium',
      page,
      stateDir: base.stateDir,
      service,
      exportDir: base.exportDir,
      pageErrors,
      screenshot: screenshotter(page, ''),
      resize: (width, height) => page.setViewportSize({ width, height }),
      async close() {
        for (const off of offs) off();
        await b.close().catch(() => undefined);
        await service.close();
        await server.close();
        await fsp.rm(base.tmp, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await browser?.close().catch(() => undefined);
    await service.close();
    await server.close();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Electron

async function startElectron(base: Base): Promise<Harness> {
  const executablePath = electronBinary();
  if (!executablePath) throw new Error('no Electron binary (set ELECTRON_PATH)');
  let app: ElectronApplication | null = null;
  try {
    app = await _electron.launch({
      executablePath,
      // --no-sandbox: containers often lack user namespaces; the renderer sandbox flag still applies.
      args: ['--no-sandbox', '--disable-gpu', ROOT],
      cwd: ROOT,
      env: { ...process.env, MTLS_CONSOLE_STATE_DIR: base.stateDir } as Record<string, string>,
    });
    // The native dialogs would block a headless run: answer them from here.
    await app.evaluate(
      ({ dialog }, dirs) => {
        const d = dialog as unknown as Record<string, unknown>;
        d['showOpenDialog'] = async () => ({ canceled: false, filePaths: [dirs.exportDir] });
        d['showSaveDialog'] = async () => ({ canceled: false, filePath: dirs.auditFile });
      },
      { exportDir: base.exportDir, auditFile: path.join(base.tmp, 'audit-export.jsonl') },
    );
    const page = await app.firstWindow();
    const pageErrors = watchErrors(page);
    await page.waitForLoadState('domcontentloaded');
    const a = app;
    const resize = async (width: number, height: number): Promise<void> => {
      await a.evaluate(
        ({ BrowserWindow }, size) => {
          BrowserWindow.getAllWindows()[0]?.setContentSize(size.width, size.height);
        },
        { width, height },
      );
    };
    await resize(base.viewport.width, base.viewport.height);
    return {
      target: 'electron',
      page,
      stateDir: base.stateDir,
      service: null,
      exportDir: base.exportDir,
      pageErrors,
      screenshot: screenshotter(page, 'electron-'),
      resize,
      async close() {
        await a.close().catch(() => undefined);
        await fsp.rm(base.tmp, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await app?.close().catch(() => undefined);
    throw e;
  }
}
