import { defineConfig } from '@playwright/test';
import { electronBinary, type Target } from './e2e/target';

/**
 * e2e on Playwright Test (DESIGN.md §11): the built renderer over the real service, one spec file at a
 * time (each starts a gateway process and TLS peers; the machine is small), traces and screenshots
 * kept for failures, an HTML report in e2e/report. `npm run e2e` (e2e/run.cjs) builds out/ when
 * missing, runs the `chromium` project, then `electron` under xvfb-run where a binary exists.
 */
const electron = electronBinary() !== null && process.env['MTLS_E2E_ELECTRON'] !== '0';

export default defineConfig<{ target: Target }>({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: Boolean(process.env['CI']),
  timeout: 120_000,
  expect: { timeout: 15_000 },
  // Failure artefacts and the HTML report; run.cjs sends the electron run's elsewhere so it does not
  // replace the chromium one, and people sharing a checkout can keep theirs apart the same way.
  outputDir: process.env['MTLS_E2E_OUTPUT'] ?? 'e2e/test-results',
  reporter: [
    ['list'],
    ['html', { outputFolder: process.env['MTLS_E2E_REPORT'] ?? 'e2e/report', open: 'never' }],
  ],
  use: {
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    actionTimeout: 30_000,
  },
  projects: [
    { name: 'chromium', use: { target: 'chromium' } },
    // Only where an Electron binary exists (never here: ELECTRON_SKIP_BINARY_DOWNLOAD).
    ...(electron ? [{ name: 'electron', use: { target: 'electron' as const } }] : []),
  ],
});
