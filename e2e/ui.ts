import type { Locator, Page } from '@playwright/test';

/** Selectors by test id (see e2e/TESTIDS.md, which lists every id the specs use). */
export const tid = (id: string): string => `[data-testid="${id}"]`;
/** Ids carrying a key after a fixed prefix, e.g. `client-row-<serial>`. */
export const tidPrefix = (prefix: string): string => `[data-testid^="${prefix}"]`;

export type Screen = 'dashboard' | 'clients' | 'connections' | 'audit' | 'settings';

/** Clicks the nav button and waits for the screen's root. */
export async function goTo(page: Page, screen: Screen): Promise<Locator> {
  await page.click(tid(`nav-${screen}`));
  const root = page.locator(tid(screen));
  await root.waitFor();
  return root;
}

export interface WizardInput {
  readonly caName: string;
  readonly passphrase: string;
  readonly listen: string;
  readonly upstream: string;
  readonly algorithm?: 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-4096';
  readonly serverDays?: number;
}

/**
 * Walks the first-run wizard step by step (algorithm, CA name, server, gateway, vault, review):
 * fills what the current step shows, then `wizard-next` and waits for the next step's form.
 */
export async function completeWizard(
  page: Page,
  input: WizardInput,
  onReview?: () => Promise<void>,
  /** Called on each step as it first shows (before it is filled). */
  onStep?: (step: string) => Promise<void>,
): Promise<void> {
  await page.locator(tid('wizard')).waitFor();
  for (let i = 0; i < 10; i++) {
    const form = page.locator(tidPrefix('wizard-step-'));
    const step = ((await form.getAttribute('data-testid')) ?? '').slice('wizard-step-'.length);
    await onStep?.(step);
    switch (step) {
      case 'algorithm':
        await page.check(tid(`wizard-algorithm-${input.algorithm ?? 'ecdsa-p256'}`));
        break;
      case 'ca':
        await page.fill(tid('wizard-ca-name'), input.caName);
        break;
      case 'server':
        // Hosts default to localhost and 127.0.0.1, which the specs connect to.
        if (input.serverDays !== undefined)
          await page.fill(tid('wizard-server-days'), String(input.serverDays));
        break;
      case 'gateway':
        await page.fill(tid('wizard-listen'), input.listen);
        await page.fill(tid('wizard-upstream'), input.upstream);
        break;
      case 'vault':
        await page.check(tid('wizard-vault-passphrase'));
        await page.fill(tid('wizard-passphrase'), input.passphrase);
        await page.fill(tid('wizard-passphrase-confirm'), input.passphrase);
        break;
      case 'review':
        await onReview?.();
        await page.click(tid('wizard-create'));
        return;
      default:
        throw new Error(`wizard: unknown step "${step}"`);
    }
    await page.click(tid('wizard-next'));
    await page.locator(tid(`wizard-step-${step}`)).waitFor({ state: 'detached' });
  }
  throw new Error('wizard: no review step after 10 steps');
}

/** The table row of the client named `name` (rows are keyed by serial). */
export function clientRow(page: Page, name: string): Locator {
  return page
    .locator(`tr${tidPrefix('client-row-')}`)
    .filter({ has: page.locator('td', { hasText: new RegExp(`^${escapeRe(name)}$`) }) });
}

/** `client-row-<serial>` → serial. */
export async function rowSerial(row: Locator): Promise<string> {
  const id = (await row.getAttribute('data-testid')) ?? '';
  return id.slice('client-row-'.length);
}

/** Whole days a countdown shows: its `data-days`, checked against the "N days" in its text. */
export async function shownDays(el: Locator): Promise<number> {
  const attr = await el.getAttribute('data-days');
  const text = (await el.textContent()) ?? '';
  const days = Number(attr);
  const m = /(\d+) days?/.exec(text);
  if (m && Number(m[1]) !== days) throw new Error(`countdown says "${text}" but data-days=${attr}`);
  return days;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The Audit toolbar's text filters (`audit-filter-<field>`). */
export type AuditTextFilter = 'type' | 'cn' | 'serial' | 'actor' | 'text';

/**
 * Waits until the Audit list shows main's answer for `filter` (the normalized filter the store sent,
 * echoed in `audit-count`'s `data-filter`), then returns the counts it shows.
 */
export async function auditSettled(
  page: Page,
  filter: Readonly<Record<string, string>>,
): Promise<{ total: number; all: number }> {
  const count = page.locator(tid('audit-count'));
  const want = JSON.stringify(Object.entries(filter).sort());
  await page.waitForFunction(
    ({ sel, want }) => {
      const el = document.querySelector(sel);
      if (!el || el.getAttribute('data-state') !== 'ready') return false;
      const shown = JSON.parse(el.getAttribute('data-filter') ?? '{}') as Record<string, string>;
      return JSON.stringify(Object.entries(shown).sort()) === want;
    },
    { sel: tid('audit-count'), want },
    { timeout: 15_000 },
  );
  return {
    total: Number(await count.getAttribute('data-total')),
    all: Number(await count.getAttribute('data-all')),
  };
}

/** Attribute values of the Audit rows in the DOM (the list is virtualized: rows in view only). */
export async function auditRows(page: Page, attr: string): Promise<string[]> {
  return page
    .locator(tid('audit-row'))
    .evaluateAll((els, a) => els.map((e) => e.getAttribute(a) ?? ''), attr);
}

export interface InitInput {
  readonly listen: string;
  readonly upstream: string;
  readonly caName?: string;
  /** The passphrase vault's passphrase (at least 12 characters). */
  readonly passphrase?: string;
}

export const E2E_PASSPHRASE = 'e2e passphrase 1234';

/**
 * Sets up a console without clicking through the wizard (for specs about other screens): `ca.init`
 * through `window.mtls` as the wizard would send it (so main validates it), then a reload into the
 * dashboard. The vault stays unlocked for the rest of the harness's life.
 */
export async function initConsole(page: Page, input: InitInput): Promise<void> {
  const res = await page.evaluate(
    (i) =>
      window.mtls.call['ca.init']({
        algorithm: 'ecdsa-p256',
        caName: i.caName,
        hosts: ['localhost', '127.0.0.1'],
        serverDays: 90,
        gateway: { listen: i.listen, upstream: i.upstream },
        vault: 'passphrase',
        passphrase: i.passphrase,
      }),
    { caName: 'E2E CA', passphrase: E2E_PASSPHRASE, ...input },
  );
  if (!res.ok) throw new Error(`ca.init failed: ${res.error.code} ${res.error.message}`);
  await page.reload();
  await page.locator(tid('dashboard')).waitFor();
}

/**
 * Issues a client through `window.mtls` as the Issue dialog would (the export folder from the
 * stubbed native dialog, so main accepts it); the bundle lands in the harness's exportDir.
 * Returns the serial.
 */
export async function issueViaApi(
  page: Page,
  name: string,
  duration = '24h',
): Promise<{ serial: string; dir: string }> {
  const res = await page.evaluate(
    async ({ name, duration }) => {
      const dir = await window.mtls.call['clients.chooseExportDir']({});
      if (!dir.ok || dir.value === null) return { ok: false as const, why: 'no export folder' };
      const issued = await window.mtls.call['clients.issue']({ name, duration, outDir: dir.value });
      if (!issued.ok) return { ok: false as const, why: `${issued.error.code} ${issued.error.message}` };
      return { ok: true as const, serial: issued.value.serial, dir: dir.value };
    },
    { name, duration },
  );
  if (!res.ok) throw new Error(`clients.issue ${name} failed: ${res.why}`);
  return { serial: res.serial, dir: res.dir };
}

/** Starts the gateway from the Dashboard and waits until it runs (or throws with what the UI says). */
export async function startGateway(page: Page): Promise<void> {
  await goTo(page, 'dashboard');
  await page.click(tid('gateway-start'));
  const outcome = page
    .locator(`${tid('gateway-state')}[data-state="running"], ${tid('error-alert')}, ${tid('gateway-crash')}`)
    .first();
  await outcome.waitFor({ timeout: 30_000 });
  const state = await page.getAttribute(tid('gateway-state'), 'data-state');
  if (state !== 'running') throw new Error(`gateway did not start: ${await outcome.textContent()}`);
}
