import { test as base, expect } from '@playwright/test';
import { startHarness, type Harness } from './harness';
import { E2E_TARGET, type Target } from './target';
import { startUpstream, type Upstream } from './net';

/**
 * Playwright Test fixtures for the e2e specs (`e2e/*.spec.ts`):
 * - `harness`: a fresh console (own state dir, own browser or Electron app) for one test.
 * - `fileHarness`: one console for the whole spec file, for flows whose tests build on each other
 *   (pair it with `test.describe.configure({ mode: 'serial' })`); closed when the next file starts.
 * - `upstream`: a loopback HTTP upstream recording the requests the gateway forwards.
 * - `target`: `chromium` (the bridge) or `electron`, set by the project in playwright.config.ts.
 * Playwright records a trace and a screenshot of these pages when a test fails (playwright.config.ts).
 */

interface TestFixtures {
  harness: Harness;
  fileHarness: Harness;
  upstream: Upstream;
}

interface WorkerFixtures {
  target: Target;
  fileHarnesses: FileHarnesses;
}

/** One harness per spec file within the worker (workers run files one after another). */
class FileHarnesses {
  private current: { file: string; harness: Harness } | null = null;

  constructor(private readonly target: Target) {}

  async forFile(file: string): Promise<Harness> {
    if (this.current?.file === file) return this.current.harness;
    await this.close();
    const harness = await startHarness(this.target);
    this.current = { file, harness };
    return harness;
  }

  async close(): Promise<void> {
    const c = this.current;
    this.current = null;
    await c?.harness.close();
  }
}

/** Page errors that mean a broken page: CSP violations and uncaught exceptions. */
export function fatalPageErrors(h: Harness): string[] {
  return h.pageErrors.filter((e) => /Content Security Policy|Uncaught|TypeError|ReferenceError/i.test(e));
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  target: [E2E_TARGET, { option: true, scope: 'worker' }],

  fileHarnesses: [
    async ({ target }, use) => {
      const registry = new FileHarnesses(target);
      await use(registry);
      await registry.close();
    },
    { scope: 'worker' },
  ],

  harness: async ({ target }, use) => {
    const h = await startHarness(target);
    try {
      await use(h);
    } finally {
      await h.close();
    }
  },

  fileHarness: async ({ fileHarnesses }, use, testInfo) => {
    const h = await fileHarnesses.forFile(testInfo.file);
    await use(h);
  },

  // Playwright reads fixture dependencies from the destructuring pattern: an empty one means none.
  // eslint-disable-next-line no-empty-pattern
  upstream: async ({}, use) => {
    const u = await startUpstream();
    try {
      await use(u);
    } finally {
      await u.close();
    }
  },
});

export { expect };
export type { Harness, Target, Upstream };
