import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Which app the e2e specs drive; kept apart from harness.ts so playwright.config.ts loads no service code. */
export type Target = 'chromium' | 'electron';

export const E2E_TARGET: Target = process.env['MTLS_E2E_TARGET'] === 'electron' ? 'electron' : 'chromium';

const ROOT = path.resolve(__dirname, '..');

/** The Electron binary, if this machine has one: ELECTRON_PATH, else what `require('electron')` names. */
export function electronBinary(): string | null {
  const fromEnv = process.env['ELECTRON_PATH'];
  if (fromEnv) return fs.existsSync(fromEnv) ? fromEnv : null;
  try {
    // electron/index.js exports the binary's path, or throws when the download was skipped.
    const p: unknown = createRequire(path.join(ROOT, 'package.json'))('electron');
    return typeof p === 'string' && fs.existsSync(p) ? p : null;
  } catch {
    return null;
  }
}
