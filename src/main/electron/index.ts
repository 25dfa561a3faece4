import { app, BrowserWindow, ipcMain, safeStorage, session, type WebContents } from 'electron';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConsoleService, createVaultResolver } from '../service';
import { describeAutoStart, startOnLaunch, type AutoStartOutcome } from '../service/auto-start';
import { bindIpc } from './bind-ipc';
import { installCsp } from './csp';
import { createDialogs } from './dialogs';
import { createIpcDispatcher, createSenderPolicy } from './ipc';
import { startNotifications } from './notifications';
import { electronSafeStorage } from './safe-storage';
import { UtilityLauncher } from './utility-launcher';

/**
 * The desktop app's entry (DESIGN.md §2): one hardened window, the console service behind the IPC
 * front door, the gateway as a utilityProcess that stops with the app.
 */

// electron-vite sets this only for `electron-vite dev`; a packaged or built app never loads a URL.
const devServerUrl = !app.isPackaged ? process.env['ELECTRON_RENDERER_URL'] : undefined;
const isDev = devServerUrl !== undefined;
const rendererFile = path.join(__dirname, '../renderer/index.html');
const appUrl = devServerUrl ?? pathToFileURL(rendererFile).href;

let mainWindow: BrowserWindow | null = null;

if (!app.requestSingleInstanceLock()) {
  // A second copy would fight the first over the state dir and the gateway's port.
  app.quit();
} else {
  app.enableSandbox();
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('web-contents-created', (_e, contents) => harden(contents));
  app
    .whenReady()
    .then(start)
    .catch((e: unknown) => {
      console.error('mtls-console failed to start:', e);
      app.exit(1);
    });
}

/** Every webContents: no navigation away from the app, no new windows, no webviews (STYLE.md, security defaults). */
function harden(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (url !== appUrl) event.preventDefault();
  });
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

function stateDir(): string {
  // Same override the CLI honours (DESIGN.md §5), so both can share a non-default state dir.
  const fromEnv = process.env['MTLS_CONSOLE_STATE_DIR'];
  return fromEnv && fromEnv.trim() !== '' ? path.resolve(fromEnv) : app.getPath('userData');
}

async function start(): Promise<void> {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
  installCsp(ses, { dev: isDev, ...(devServerUrl ? { devServerUrl } : {}) });

  const vaults = createVaultResolver({ safeStorage: electronSafeStorage(safeStorage) });
  const service = new ConsoleService({
    stateDir: stateDir(),
    vaults,
    dialogs: createDialogs(() => mainWindow),
    gatewayLauncher: new UtilityLauncher(path.join(__dirname, 'gateway.js')),
    operator: safeUsername(),
  });

  // The published CRL is re-signed before it runs out while the app is open (nginx refuses an expired one).
  service.startUpkeep((message) => console.error(`mtls-console: ${message}`));

  const dispatcher = createIpcDispatcher({
    handle: (call, input) => service.handle(call, input),
    isAllowedSender: createSenderPolicy({ webContentsId: () => mainWindow?.webContents.id, appUrl }),
    onInternalError: (call, error) => console.error(`mtls-console: ${call} failed:`, error),
  });

  // The gateway stops with the app: hold the quit until the service has shut it down.
  let closing = false;
  app.on('before-quit', (event) => {
    if (closing) return;
    closing = true;
    event.preventDefault();
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref());
    void Promise.race([service.close(), timeout])
      .catch((e: unknown) => console.error('mtls-console: closing the service failed:', e))
      .finally(() => app.quit());
  });
  // Closing the window ends the app on every platform: a console left running without a window
  // would keep the gateway listening with nobody watching.
  app.on('window-all-closed', () => app.quit());

  createWindow(dispatcher, service);
  startNotifications(service, () => mainWindow);

  // The saved "start the gateway on launch" (issue 10); a locked vault defers it to the unlock.
  const logLaunch = (outcome: AutoStartOutcome) => {
    const line = describeAutoStart(outcome);
    if (line !== null) console.error(`mtls-console: ${line}`);
  };
  void startOnLaunch(service, logLaunch).then(logLaunch);
}

function createWindow(dispatcher: ReturnType<typeof createIpcDispatcher>, service: ConsoleService): void {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'mtls-console',
    backgroundColor: '#0f1115',
    autoHideMenuBar: true,
    webPreferences: {
      preload: path.join(__dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
      devTools: isDev,
    },
  });
  mainWindow = win;
  const unbind = bindIpc(ipcMain, win.webContents, dispatcher, service);
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    unbind();
    mainWindow = null;
  });
  if (isDev) win.webContents.openDevTools({ mode: 'detach' });
  const loaded = devServerUrl ? win.loadURL(devServerUrl) : win.loadFile(rendererFile);
  loaded.catch((e: unknown) => console.error('mtls-console: the window failed to load:', e));
}

/** The operator named in audit records; some systems have no passwd entry for the uid. */
function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'operator';
  }
}
