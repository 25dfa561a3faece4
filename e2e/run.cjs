// `npm run e2e`: the Playwright Test specs (e2e/*.spec.ts) against Chromium with the bridge, then,
// where an Electron binary exists, the same specs through Playwright's _electron under xvfb-run
// (DESIGN.md §11). Extra arguments go to `playwright test` (e.g. a spec file). Report: e2e/report.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const bin = (name) =>
  path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
const extra = process.argv.slice(2); // e.g. a spec file filter

function run(cmd, args, env) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (res.error) {
    console.error(`e2e: could not run ${path.basename(cmd)}: ${res.error.message}`);
    return 1;
  }
  return res.status ?? 1;
}

if (
  !fs.existsSync(path.join(root, 'out', 'renderer', 'index.html')) ||
  !fs.existsSync(path.join(root, 'out', 'main', 'gateway.js'))
) {
  const rc = run(bin('electron-vite'), ['build']);
  if (rc !== 0) process.exit(rc);
}

const playwright = (project) => [bin('playwright'), 'test', `--project=${project}`, ...extra];
const chromium = playwright('chromium');
// MTLS_E2E_ELECTRON=0: playwright.config.ts then defines no electron project for this run.
let status = run(chromium[0], chromium.slice(1), { MTLS_E2E_ELECTRON: '0' });

function electronBinary() {
  const fromEnv = process.env.ELECTRON_PATH;
  if (fromEnv) return fs.existsSync(fromEnv) ? fromEnv : null;
  try {
    const p = require(require.resolve('electron', { paths: [root] }));
    return typeof p === 'string' && fs.existsSync(p) ? p : null;
  } catch {
    return null; // electron/index.js throws when its binary was never downloaded
  }
}

const electron = electronBinary();
if (!electron) {
  console.log('electron suite skipped: no Electron binary (ELECTRON_SKIP_BINARY_DOWNLOAD)');
} else {
  const env = {
    ELECTRON_PATH: electron,
    MTLS_E2E_REPORT: 'e2e/report-electron',
    MTLS_E2E_OUTPUT: 'e2e/test-results-electron',
  };
  const cmd = playwright('electron');
  // A display for Electron's window; xvfb-run is not needed where one exists.
  const rc =
    process.platform === 'linux' && !process.env.DISPLAY
      ? run('xvfb-run', ['-a', ...cmd], env)
      : run(cmd[0], cmd.slice(1), env);
  if (rc !== 0) status = rc;
}
process.exit(status);
