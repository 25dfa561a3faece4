import type { Page } from '@playwright/test';
import path from 'node:path';
import type { Harness } from './harness';
import { freePort, mtlsClient, type MtlsClient, type Upstream } from './net';
import { E2E_PASSPHRASE, goTo, initConsole, issueViaApi, startGateway, tid, tidPrefix } from './ui';

/**
 * Every screen of the app with something on it, for the accessibility check and the screenshots:
 * a console with three clients (one revoked), the gateway running and one live mTLS connection.
 */

export interface Populated {
  readonly alice: string;
  readonly port: number;
  readonly live: MtlsClient;
}

export const ALICE = 'alice@ops';

export async function populate(h: Harness, upstream: Upstream): Promise<Populated> {
  const { page } = h;
  const port = await freePort();
  await initConsole(page, { listen: `127.0.0.1:${port}`, upstream: upstream.url, caName: 'Ops CA' });
  const alice = await issueViaApi(page, ALICE, '30d');
  await issueViaApi(page, 'scanner-1', '7d');
  const bob = await issueViaApi(page, 'bob-agent', '24h');
  const revoked = await page.evaluate(
    (serial) => window.mtls.call['clients.revoke']({ serial, reason: 'keyCompromise' }),
    bob.serial,
  );
  if (!revoked.ok) throw new Error(`revoke failed: ${revoked.error.message}`);
  await startGateway(page);
  const live = mtlsClient({
    port,
    cert: path.join(alice.dir, `${ALICE}.crt`),
    key: path.join(alice.dir, `${ALICE}.key`),
    ca: path.join(alice.dir, 'ca.crt'),
  });
  const res = await live.get('/v1/health');
  if (res.status !== 200) throw new Error(`gateway answered ${res.status}`);
  return { alice: alice.serial, port, live };
}

export interface Stop {
  /** File-name stem: e2e/screenshots/<name>-<W>x<H>.png. */
  readonly name: string;
  /** Shows the screen and waits until it has its content. */
  open(page: Page, pop: Populated): Promise<void>;
  /** Leaves it (a dialog closed, the vault unlocked again), if it needs leaving. */
  close?(page: Page): Promise<void>;
}

const escape = async (page: Page): Promise<void> => {
  await page.keyboard.press('Escape');
  await page.locator('[role="dialog"]').waitFor({ state: 'detached' });
};

/** The initialized app's screens, in an order that leaves the app as it found it. */
export const STOPS: readonly Stop[] = [
  {
    name: 'dashboard',
    open: async (page) => {
      await goTo(page, 'dashboard');
      await page.locator(`${tid('gateway-state')}[data-state="running"]`).waitFor();
    },
  },
  {
    name: 'clients',
    open: async (page, pop) => {
      await goTo(page, 'clients');
      await page.locator(tid(`client-row-${pop.alice}`)).waitFor();
    },
  },
  {
    name: 'issue',
    open: async (page) => {
      await goTo(page, 'clients');
      await page.click(tid('issue-open'));
      await page.locator(tid('issue-dialog')).waitFor();
      await page.fill(tid('issue-name'), 'deploy-bot');
    },
    close: escape,
  },
  {
    name: 'revoke',
    open: async (page, pop) => {
      await goTo(page, 'clients');
      await page.click(tid(`client-revoke-${pop.alice}`));
      await page.locator(tid('revoke-dialog')).waitFor();
    },
    close: escape,
  },
  {
    name: 'connections',
    open: async (page, pop) => {
      await goTo(page, 'connections');
      await page.locator(`${tidPrefix('connection-row-')}[data-serial="${pop.alice}"]`).waitFor();
    },
  },
  {
    name: 'audit',
    open: async (page) => {
      await goTo(page, 'audit');
      await page.locator(tid('audit-row')).first().waitFor();
    },
  },
  {
    name: 'settings',
    open: async (page) => {
      await goTo(page, 'settings');
      await page.locator(tid('settings-form')).waitFor();
    },
  },
  {
    name: 'unlock',
    open: async (page) => {
      const res = await page.evaluate(() => window.mtls.call['vault.lock']({}));
      if (!res.ok) throw new Error(`vault.lock failed: ${res.error.message}`);
      await page.reload();
      await page.locator(tid('unlock')).waitFor();
    },
    close: async (page) => {
      await page.fill(tid('unlock-passphrase'), E2E_PASSPHRASE);
      await page.click(tid('unlock-submit'));
      await page.locator(tid('dashboard')).waitFor();
    },
  },
];
