import fs from 'node:fs';
import path from 'node:path';
import { ConsoleService, createVaultResolver } from '../src/main/service';
import { derivedPaths } from '../src/main/service/paths';
import { expect, fatalPageErrors, test } from './fixtures';
import {
  certNotAfter,
  daysLeft,
  freePort,
  mtlsClient,
  opensslVerifyClient,
  startUpstream,
  within,
  type MtlsClient,
  type Upstream,
} from './net';
import {
  auditRows,
  auditSettled,
  clientRow,
  completeWizard,
  goTo,
  rowSerial,
  shownDays,
  tid,
  tidPrefix,
} from './ui';

/**
 * The operator's path through the app, in order, on one state dir: wizard → dashboard → issue →
 * gateway with a real mTLS client → revoke → audit → countdowns. Each step waits for what the UI
 * shows (selectors and events), never for time to pass.
 */

const PASSPHRASE = 'e2e passphrase 1234';
const ALICE = 'alice@ops';
const BOB = 'bob-agent';

let upstream: Upstream;
let gatewayPort: number;
let alice: MtlsClient | null = null;
/** Alice's serial, once she is revoked (the Audit steps filter by it). */
let aliceSerial = '';

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  upstream = await startUpstream();
  gatewayPort = await freePort();
});

test.afterAll(async () => {
  alice?.destroy();
  await upstream?.close();
});

test.describe('mtls-console', () => {
  test('walks the CA wizard from an empty state to the dashboard', async ({ fileHarness: h }) => {
    const { page } = h;
    await completeWizard(
      page,
      {
        caName: 'E2E Ops CA',
        passphrase: PASSPHRASE,
        listen: `127.0.0.1:${gatewayPort}`,
        upstream: upstream.url,
      },
      async () => {
        await h.screenshot('wizard');
      },
    );
    await page.locator(tid('dashboard')).waitFor({ timeout: 60_000 });
    await page.locator(tid('countdown-ca')).waitFor();
    const p = derivedPaths(h.stateDir);
    expect(fs.existsSync(p.caCert)).toBe(true);
    expect(fs.existsSync(p.serverCert)).toBe(true);
    await h.screenshot('dashboard');
  });

  test('shows the gateway settings the wizard stored, and saves them', async ({ fileHarness: h }) => {
    const { page } = h;
    await goTo(page, 'settings');
    await expect.poll(() => page.inputValue(tid('settings-listen'))).toBe(`127.0.0.1:${gatewayPort}`);
    expect(await page.inputValue(tid('settings-upstream'))).toBe(upstream.url);
    await page.fill(tid('settings-max-connections'), '20');
    await page.fill(tid('settings-max-per-identity'), '6');
    // A name that is not a header name is refused in words, and nothing is saved.
    await page.fill(tid('settings-strip-headers'), 'X-Tenant, bad;name');
    await page.click(tid('settings-save'));
    await expect
      .poll(() => page.textContent(tid('settings-form')))
      .toContain('"bad;name" is not a header name');
    await page.fill(tid('settings-strip-headers'), 'X-Tenant, X-Internal-*');
    await page.check(tid('settings-client-cert-header'));
    await page.check(tid('settings-rewrite-origin'));
    await page.click(tid('settings-save'));
    await page.locator(tid('settings-saved')).waitFor();
    // What the database holds, read by an independent service on the same state dir.
    const reader = new ConsoleService({ stateDir: h.stateDir, vaults: createVaultResolver() });
    const saved = await reader.gatewayConfig().finally(() => reader.close());
    expect(saved).toMatchObject({
      maxConnections: 20,
      maxConnectionsPerIdentity: 6,
      stripHeaders: ['X-Tenant', 'X-Internal-*'],
      clientCertHeader: true,
      xfccCert: false,
      rewriteOrigin: true,
    });
    expect(await page.textContent(tid('settings-mcp'))).toContain('No mtls-console mcp server is running');
    await h.screenshot('settings');
  });

  test('edits access rules in Settings, tests a request against them, and removes them', async ({
    fileHarness: h,
  }) => {
    const { page } = h;
    await goTo(page, 'settings');
    await expect.poll(() => page.textContent(tid('policy-mode'))).toContain('No rules');
    // A path prefix without its leading slash is refused in words.
    await page.fill(tid('policy-group'), 'agents');
    await page.fill(tid('policy-methods'), 'GET, POST');
    await page.fill(tid('policy-paths'), 'status');
    await page.click(tid('policy-add-rule'));
    await expect.poll(() => page.textContent(tid('policy-error'))).toContain('starts with /');
    await page.fill(tid('policy-paths'), '/status, /v1/scan');
    await page.click(tid('policy-add-rule'));
    await page.locator(tid('policy-rule-r1')).waitFor();
    expect(await page.textContent(tid('policy-mode'))).toContain('denied with 403');

    await page.fill(tid('policy-test-name'), 'scanner-1');
    await page.fill(tid('policy-test-groups'), 'agents');
    await page.fill(tid('policy-test-method'), 'post');
    await page.fill(tid('policy-test-path'), '/v1/scan/../scan/7');
    await expect.poll(() => page.textContent(tid('policy-test-result'))).toBe('Allowed by rule r1.');
    await page.fill(tid('policy-test-groups'), '');
    await expect
      .poll(() => page.textContent(tid('policy-test-result')))
      .toBe('Denied (403): no rule allows POST /v1/scan/7 for scanner-1.');
    await h.screenshot('settings-access-rules');

    await page.getByRole('button', { name: 'Remove rule r1' }).click();
    await expect.poll(() => page.textContent(tid('policy-mode'))).toContain('No rules');
  });

  test('issues a client and writes a bundle openssl accepts for client auth', async ({ fileHarness: h }) => {
    const { page } = h;
    const screen = await goTo(page, 'clients');
    await screen.locator(tid('issue-open')).click();
    await page.fill(tid('issue-name'), ALICE);
    await page.click(tid('issue-ttl-24h'));
    await page.fill(tid('issue-p12-password'), 'p12-secret');
    await page.fill(tid('issue-p12-confirm'), 'p12-secret');
    await page.click(tid('issue-choose-dir'));
    await expect.poll(() => page.textContent(tid('issue-dir'))).toContain(h.exportDir);
    await page.click(tid('issue-submit'));
    await page.locator(tid('issue-done')).waitFor();
    await h.screenshot('issue');
    await page.click(tid('issue-close'));
    const row = clientRow(page, ALICE);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('active');

    const crt = path.join(h.exportDir, `${ALICE}.crt`);
    const key = path.join(h.exportDir, `${ALICE}.key`);
    const ca = path.join(h.exportDir, 'ca.crt');
    for (const f of [crt, key, ca, path.join(h.exportDir, `${ALICE}.p12`)])
      expect(fs.existsSync(f), f).toBe(true);
    if (process.platform !== 'win32') expect(fs.statSync(key).mode & 0o777).toBe(0o600);
    expect(await opensslVerifyClient(ca, crt)).toBe(`${crt}: OK`);
    await h.screenshot('clients');
  });

  test('starts the gateway; a real mTLS client shows up by CN in Connections', async ({ fileHarness: h }) => {
    const { page } = h;
    await goTo(page, 'dashboard');
    await page.click(tid('gateway-start'));
    // Running, or the error the UI shows instead (a failure is reported with its message, not a timeout).
    const outcome = page
      .locator(
        `${tid('gateway-state')}[data-state="running"], ${tid('error-alert')}, ${tid('gateway-crash')}`,
      )
      .first();
    await outcome.waitFor({ timeout: 30_000 });
    const state = await page.getAttribute(tid('gateway-state'), 'data-state');
    if (state !== 'running') throw new Error(`gateway did not start: ${await outcome.textContent()}`);

    alice = mtlsClient({
      port: gatewayPort,
      cert: path.join(h.exportDir, `${ALICE}.crt`),
      key: path.join(h.exportDir, `${ALICE}.key`),
      ca: path.join(h.exportDir, 'ca.crt'),
    });
    const res = await alice.get('/v1/health');
    expect(res).toEqual({ status: 200, body: 'upstream ok' });
    expect(upstream.requests.at(-1)).toContain(`CN=${ALICE}`);

    await goTo(page, 'clients');
    const serial = await rowSerial(clientRow(page, ALICE));
    const screen = await goTo(page, 'connections');
    const row = screen.locator(`${tidPrefix('connection-row-')}[data-serial="${serial}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain(ALICE);
    await h.screenshot('connections');
  });

  test('revoking from the UI drops the live connection and refuses new ones; Audit shows it', async ({
    fileHarness: h,
  }) => {
    const { page } = h;
    if (!alice) throw new Error('no client connection from the previous step');
    const dropped = alice.closed();
    await goTo(page, 'clients');
    const row = clientRow(page, ALICE);
    const serial = await rowSerial(row);
    expect(serial).toMatch(/^[0-9a-f]+$/);
    await page.click(tid(`client-revoke-${serial}`));
    await page.selectOption(tid('revoke-reason'), 'keyCompromise');
    // Two steps: the reason, then the question with the certificate's name and the live count.
    await page.click(tid('revoke-next'));
    await expect.poll(() => page.getAttribute(tid('revoke-live-count'), 'data-count')).toBe('1');
    await h.screenshot('revoke');
    await page.click(tid('revoke-confirm'));
    await expect.poll(() => row.getAttribute('data-status')).toBe('revoked');
    await within(5_000, 'the gateway to close the revoked client’s connection', dropped);

    // A new connection with the revoked cert is refused with the reason, and reaches no upstream.
    const reached = upstream.requests.length;
    const again = mtlsClient({
      port: gatewayPort,
      cert: path.join(h.exportDir, `${ALICE}.crt`),
      key: path.join(h.exportDir, `${ALICE}.key`),
      ca: path.join(h.exportDir, 'ca.crt'),
    });
    const refusal = await again.get('/v1/health').catch(() => null);
    if (refusal) expect(refusal).toMatchObject({ status: 400, body: expect.stringMatching(/revoked/) });
    expect(upstream.requests.length).toBe(reached);
    again.destroy();

    const conns = await goTo(page, 'connections');
    await conns
      .locator(`${tidPrefix('connection-row-')}[data-serial="${serial}"]`)
      .waitFor({ state: 'detached' });

    const audit = await goTo(page, 'audit');
    await audit
      .locator(`${tid('audit-row')}[data-type*="revoke"]`)
      .first()
      .waitFor();
    const refused = audit.locator(`${tid('audit-row')}[data-type*="refuse"]`).first();
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/revoked/);
    await h.screenshot('audit');
    aliceSerial = serial;
  });

  test('Audit filters, counts and exports on the server, follows new records live, and verifies', async ({
    fileHarness: h,
  }) => {
    const { page } = h;
    if (!aliceSerial) throw new Error('no revoked client from the previous step');
    await goTo(page, 'audit');
    const { total: everything, all } = await auditSettled(page, {});
    expect(everything).toBe(all);
    expect(await page.textContent(tid('audit-count'))).toContain(`${all.toLocaleString()} records`);

    // Type is a prefix: accepted, refused and closed connections, nothing else.
    await page.fill(tid('audit-filter-type'), 'gateway.connection');
    const conn = await auditSettled(page, { type: 'gateway.connection' });
    expect(conn.total).toBeGreaterThan(0);
    expect(conn.total).toBeLessThan(all);
    const types = await auditRows(page, 'data-type');
    expect(types.length).toBeGreaterThan(0);
    for (const t of types) expect(t).toMatch(/^gateway\.connection\./);
    expect(types.some((t) => t.endsWith('.refused'))).toBe(true);
    expect(await page.textContent(tid('audit-count'))).toContain(
      `${conn.total.toLocaleString()} of ${all.toLocaleString()} records`,
    );

    // A new refusal shows up on top while the filter is on, and both counts grow.
    await page.fill(tid('audit-filter-type'), 'gateway.connection.refused');
    const before = await auditSettled(page, { type: 'gateway.connection.refused' });
    const topBefore = Number((await auditRows(page, 'data-seq'))[0]);
    const again = mtlsClient({
      port: gatewayPort,
      cert: path.join(h.exportDir, `${ALICE}.crt`),
      key: path.join(h.exportDir, `${ALICE}.key`),
      ca: path.join(h.exportDir, 'ca.crt'),
    });
    // Refused with the reason (or cut, should the answer not get through); never a 200.
    expect((await again.get('/v1/health').catch(() => null))?.status).not.toBe(200);
    again.destroy();
    await expect.poll(async () => Number((await auditRows(page, 'data-seq'))[0])).toBeGreaterThan(topBefore);
    const count = page.locator(tid('audit-count'));
    await expect
      .poll(async () => Number(await count.getAttribute('data-total')))
      .toBeGreaterThan(before.total);
    expect(Number(await count.getAttribute('data-all'))).toBeGreaterThan(before.all);
    await page.fill(tid('audit-filter-type'), '');

    // CN: the certificate a record is about, so the operator's issue and revoke come with the traffic.
    await page.fill(tid('audit-filter-cn'), ALICE);
    const byCn = await auditSettled(page, { cn: ALICE });
    for (const cn of await auditRows(page, 'data-cn')) expect(cn).toBe(ALICE);
    const cnTypes = await auditRows(page, 'data-type');
    expect(cnTypes).toContain('client.issued');
    expect(cnTypes).toContain('client.revoked');

    // Export what the screen shows: the same filter, the same count.
    await page.click(tid('audit-export-jsonl'));
    const exported = page.locator(tid('audit-export-result'));
    await exported.waitFor();
    expect(Number(await exported.getAttribute('data-count'))).toBe(byCn.total);
    const file = (await exported.getAttribute('data-path')) ?? '';
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(lines).toHaveLength(byCn.total);
    for (const l of lines) expect((JSON.parse(l) as { cn: string | null }).cn).toBe(ALICE);
    await page.fill(tid('audit-filter-cn'), '');

    // Serial as people paste it (colons, capitals); main's schema normalizes it, and so do we.
    const pasted = aliceSerial.toUpperCase().match(/../g)?.join(':') ?? aliceSerial;
    await page.fill(tid('audit-filter-serial'), pasted);
    await auditSettled(page, { serial: aliceSerial });
    expect(await auditRows(page, 'data-type')).toContain('client.revoked');
    await page.fill(tid('audit-filter-serial'), '');

    // Actor: the operator the harness runs as; operator actions only.
    await page.fill(tid('audit-filter-actor'), 'e2e-operator');
    await auditSettled(page, { actor: 'e2e-operator' });
    const actors = await auditRows(page, 'data-actor');
    expect(actors.length).toBeGreaterThan(0);
    for (const a of actors) expect(a).toBe('e2e-operator');
    await page.fill(tid('audit-filter-actor'), '');

    // Free text over details: the refusal's reason and the revocation both say "revoked".
    await page.fill(tid('audit-filter-text'), 'revoked');
    await auditSettled(page, { text: 'revoked' });
    const textTypes = await auditRows(page, 'data-type');
    expect(textTypes).toContain('client.revoked');
    expect(textTypes).toContain('gateway.connection.refused');
    await page.fill(tid('audit-filter-text'), '');

    // A time range in the future matches nothing.
    const next = new Date(Date.now() + 2 * 86_400_000);
    const p = (n: number) => String(n).padStart(2, '0');
    const local = `${next.getFullYear()}-${p(next.getMonth() + 1)}-${p(next.getDate())}T00:00`;
    await page.fill(tid('audit-filter-from'), local);
    const future = await auditSettled(page, { from: new Date(local).toISOString() });
    expect(future.total).toBe(0);
    expect(await auditRows(page, 'data-seq')).toEqual([]);
    await h.screenshot('audit-filtered');

    await page.click(tid('audit-filter-clear'));
    const cleared = await auditSettled(page, {});
    expect(cleared.total).toBe(cleared.all);

    await page.click(tid('audit-verify'));
    const verdict = page.locator(tid('audit-verify-result'));
    await verdict.waitFor({ timeout: 60_000 });
    expect(await verdict.getAttribute('data-ok')).toBe('true');
    expect((await verdict.textContent())?.trim()).not.toBe('');
  });

  test('shows rotation countdowns that match the certificates’ real notAfter', async ({ fileHarness: h }) => {
    const { page } = h;
    const p = derivedPaths(h.stateDir);

    // A 7-day client, for a client countdown in days.
    await goTo(page, 'clients');
    await page.click(tid('issue-open'));
    await page.fill(tid('issue-name'), BOB);
    await page.click(tid('issue-ttl-7d'));
    await page.click(tid('issue-choose-dir'));
    await page.click(tid('issue-submit'));
    await page.locator(tid('issue-done')).waitFor();
    await page.click(tid('issue-close'));
    const bobSerial = await rowSerial(clientRow(page, BOB));

    await goTo(page, 'dashboard');
    const checks = [
      ['countdown-ca', p.caCert],
      ['countdown-server', p.serverCert],
      [`countdown-client-${bobSerial}`, path.join(h.exportDir, `${BOB}.crt`)],
    ] as const;
    for (const [id, file] of checks) {
      const notAfter = certNotAfter(file);
      const t0 = daysLeft(notAfter);
      const shown = await shownDays(page.locator(tid(id)).first());
      expect(
        [t0, daysLeft(notAfter)],
        `${id} vs ${path.basename(file)} notAfter ${notAfter.toISOString()}`,
      ).toContain(shown);
    }
    // The 10-year CA, the 90-day server cert and the 7-day client, as issued.
    expect(daysLeft(certNotAfter(p.caCert))).toBeGreaterThan(3600);
    expect(daysLeft(certNotAfter(p.serverCert))).toBe(89);
    expect(daysLeft(certNotAfter(path.join(h.exportDir, `${BOB}.crt`)))).toBe(6);
    await page.locator(tid('rotation-timeline')).scrollIntoViewIfNeeded();
    await h.screenshot('rotation');
  });

  test('ran without CSP violations or uncaught page errors', ({ fileHarness: h }) => {
    expect(fatalPageErrors(h)).toEqual([]);
  });
});
