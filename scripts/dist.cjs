// `npm run dist`: package the built app with electron-builder, but first make sure there is an
// Electron binary to package. Without one electron-builder would try to download it (or fail with a
// long stack); here the operator gets one line saying what to do.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');

/** The `electronDist` setting, from the config file or `-c.electronDist=…` on our command line. */
function configuredElectronDist() {
  const fromArgs = process.argv
    .slice(2)
    .find((a) => a.startsWith('-c.electronDist=') || a.startsWith('--config.electronDist='));
  if (fromArgs) return fromArgs.split('=').slice(1).join('=');
  try {
    const yml = fs.readFileSync(path.join(root, 'electron-builder.yml'), 'utf8');
    const m = /^electronDist:\s*(.+?)\s*$/m.exec(yml);
    return m ? m[1].replace(/^['"]|['"]$/g, '') : null;
  } catch {
    return null;
  }
}

/** The binary electron's installer put in node_modules (absent when ELECTRON_SKIP_BINARY_DOWNLOAD was set). */
function installedElectron() {
  try {
    const p = require(require.resolve('electron', { paths: [root] }));
    return typeof p === 'string' && fs.existsSync(p) ? p : null;
  } catch {
    return null; // electron/index.js throws when path.txt is missing
  }
}

const dist = configuredElectronDist();
const haveDist = dist !== null && fs.existsSync(path.resolve(root, dist));
if (!haveDist && !installedElectron()) {
  console.error(
    'dist: no Electron binary to package (node_modules/electron was installed with ELECTRON_SKIP_BINARY_DOWNLOAD); ' +
      'install it without that variable, or set `electronDist` in electron-builder.yml (or -c.electronDist=DIR) to an unpacked Electron.',
  );
  process.exit(1);
}
if (!fs.existsSync(path.join(root, 'out', 'main', 'index.js'))) {
  console.error('dist: out/main/index.js is missing; run `npm run build` first (npm run dist does).');
  process.exit(1);
}

const bin = path.join(
  root,
  'node_modules',
  '.bin',
  process.platform === 'win32' ? 'electron-builder.cmd' : 'electron-builder',
);
const res = spawnSync(bin, ['--config', 'electron-builder.yml', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  shell: process.platform === 'win32',
});
if (res.error) {
  console.error(`dist: could not run electron-builder: ${res.error.message}`);
  process.exit(1);
}
process.exit(res.status ?? 1);
