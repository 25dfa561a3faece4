import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { opensslCsr } from '../test/helpers/csr';
import { expect, test, fatalPageErrors } from './fixtures';
import { freePort, startUpstream, type Upstream } from './net';
import { auditRows, auditSettled, clientRow, goTo, initConsole, issueViaApi, rowSerial, tid } from './ui';

/**
 * The Clients screen as an operator uses it (issues 9 and 10): issue, sign a CSR, re-issue with the
 * previous certificate revoked, revoke in two steps by keyboard, the detail drawer (copy the PEM),
 * and one clock that turns a certificate EXPIRED while the screen is open. The built renderer in
 * Chromium over the real service; openssl makes the CSR and reads back what the console wrote.
 */

const run = promisify(execFile);

let upstream: Upstream;
let port = 0;
let csrDir = '';

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  upstream = await startUpstream();
  port = await freePort();
});
test.afterAll(async () => {
  await upstream?.close();
  if (csrDir) await fs.rm(csrDir, { recursive: true, force: true });
});

test('set up a console', async ({ fileHarness: h }) => {
  await initConsole(h.page, { listen: `127.0.0.1:${port}`, upstream: upstream.url });
  csrDir = await fs.mkdtemp(path.join(h.exportDir, '..', 'csr-'));
  await goTo(h.page, 'clients');
});

test('issues a certificate with a renewal policy; every row action names its certificate', async ({
  fileHarness: h,
}) => {
  const page = h.page;
  await page.click(tid('issue-open'));
  await page.fill(tid('issue-name'), 'alice@ops');
  await page.click(tid('issue-ttl-7d'));
  await page.fill(tid('issue-renew-max'), '3d');
  await page.click(tid('issue-choose-dir'));
  await page.click(tid('issue-submit'));
  // A maximum shorter than the certificate is refused in words, before main is asked.
  await expect(page.locator(tid('issue-dialog'))).toContainText(
    "At least the certificate's own lifetime (7d).",
  );
  await page.fill(tid('issue-renew-max'), '30d');
  await page.click(tid('issue-submit'));
  await page.locator(tid('issue-done')).waitFor();
  await expect(page.locator(tid('issue-files'))).toContainText('alice@ops.key');
  await page.click(tid('issue-close'));

  const row = clientRow(page, 'alice@ops');
  await expect(row).toHaveAttribute('data-status', 'active');
  await expect(row).toHaveAttribute('data-renewal', 'ok');
  for (const name of ['Details for alice@ops', 'Renew alice@ops', 'Re-issue alice@ops', 'Revoke alice@ops']) {
    await expect(page.getByRole('button', { name, exact: true })).toHaveCount(1);
  }
  const serial = await rowSerial(row);
  // The filter finds the row however the serial is spelled.
  const colons = (serial.match(/../g) ?? []).join(':').toUpperCase();
  for (const spelling of [colons, `serial=${serial.toUpperCase()}`, `0x${serial}`]) {
    await page.fill(tid('clients-filter'), spelling);
    await expect(page.locator(tid('clients-count'))).toHaveText(/^1 of/);
    await expect(row).toBeVisible();
  }
  await page.fill(tid('clients-filter'), '');
  // At 1024×700 every row action is on screen (the action column used to be clipped).
  await h.resize(1024, 700);
  const revoke = page.getByRole('button', { name: 'Revoke alice@ops', exact: true });
  const box = await revoke.boundingBox();
  expect(box && box.x + box.width).toBeLessThanOrEqual(1024);
  await h.resize(1920, 1080);
});

test('signs a CSR: the bundle has no key; a tampered CSR is refused in one line', async ({
  fileHarness: h,
}) => {
  const page = h.page;
  const { key, csr } = await opensslCsr(csrDir, 'carol');
  await page.click(tid('issue-open'));
  await page.fill(tid('issue-name'), 'carol');
  await page.click(tid('issue-key-csr'));
  await page.locator(tid('issue-csr-file')).setInputFiles(csr);
  await expect(page.locator(tid('issue-csr'))).toHaveValue(/BEGIN CERTIFICATE REQUEST/);
  await page.click(tid('issue-choose-dir'));
  await expect(page.locator(tid('issue-submit'))).toHaveText('Sign the CSR');
  await page.click(tid('issue-submit'));
  await page.locator(tid('issue-done')).waitFor();
  await expect(page.locator(tid('issue-no-key'))).toContainText('EC P-256 key stays where the CSR was made');
  await expect(page.locator(tid('issue-files'))).not.toContainText('carol.key');
  await page.click(tid('issue-close'));
  await expect(fs.access(path.join(h.exportDir, 'carol.key'))).rejects.toThrow();
  const cert = new X509Certificate(await fs.readFile(path.join(h.exportDir, 'carol.crt')));
  expect(cert.subject).toBe('CN=carol');
  const pub = await run('openssl', ['pkey', '-in', key, '-pubout']);
  expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(pub.stdout);

  // One flipped bit in the signature: main refuses it with one line, and nothing is issued.
  const pem = await fs.readFile(csr, 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0x01;
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await page.click(tid('issue-open'));
  await page.fill(tid('issue-name'), 'mallory');
  await page.click(tid('issue-key-csr'));
  await page.fill(tid('issue-csr'), tampered);
  await page.click(tid('issue-choose-dir'));
  await page.click(tid('issue-submit'));
  const alert = page.locator(tid('error-alert'));
  await expect(alert).toContainText("the CSR: the CSR's signature does not verify");
  await page.keyboard.press('Escape');
  await expect(page.locator(tid('issue-dialog'))).toHaveCount(0);
  await expect(clientRow(page, 'mallory')).toHaveCount(0);
});

test('re-issues a name with the previous certificate revoked; no CLI wording anywhere', async ({
  fileHarness: h,
}) => {
  const page = h.page;
  const old = clientRow(page, 'alice@ops');
  const oldSerial = await rowSerial(old);
  await page.getByRole('button', { name: 'Re-issue alice@ops', exact: true }).click();
  const dialog = page.locator(tid('issue-dialog'));
  await expect(dialog.locator(tid('issue-reissue'))).toContainText(oldSerial);
  await page.check(tid('issue-revoke-previous'));
  await page.click(tid('issue-choose-dir'));
  await expect(page.locator(tid('issue-submit'))).toHaveText('Re-issue alice@ops');
  await expect(dialog).not.toContainText('--force');
  await page.click(tid('issue-submit'));
  await page.locator(tid('issue-done')).waitFor();
  await expect(page.locator(tid('issue-done'))).toContainText('revoked as superseded');
  await page.click(tid('issue-close'));
  await expect(page.locator(tid(`client-row-${oldSerial}`))).toHaveAttribute('data-status', 'revoked');
  const rows = clientRow(page, 'alice@ops');
  await expect(rows).toHaveCount(2);
  await expect(rows.and(page.locator('[data-status="active"]'))).toHaveCount(1);
  // A revoked certificate has no Revoke and no Renew button.
  await expect(page.locator(tid(`client-revoke-${oldSerial}`))).toHaveCount(0);
  await expect(page.locator(tid(`client-renew-${oldSerial}`))).toHaveCount(0);
  await expect(page.locator('body')).not.toContainText('--force');
});

test('revokes in two steps, by keyboard only; Enter in the serial field does not revoke', async ({
  fileHarness: h,
}) => {
  const page = h.page;
  const { serial } = await issueViaApi(page, 'bob-agent');
  const row = page.locator(tid(`client-row-${serial}`));
  await expect(row).toHaveAttribute('data-status', 'active');

  await page.locator(tid('revoke-open')).focus();
  await page.keyboard.press('Enter');
  const serialField = page.locator(tid('revoke-serial'));
  await expect(serialField).toBeFocused();
  // As `openssl x509 -serial` prints it.
  await page.keyboard.type(`serial=${serial.toUpperCase()}`);
  await expect(page.locator(tid('revoke-target'))).toContainText('bob-agent');
  await page.keyboard.press('Enter');
  await expect(page.locator(tid('revoke-next'))).toBeVisible();
  await expect(row).toHaveAttribute('data-status', 'active');
  // The reason has no default: Continue without one asks for it.
  await page.keyboard.press('Tab');
  await expect(page.locator(tid('revoke-reason'))).toBeFocused();
  await expect(page.locator(tid('revoke-reason'))).toHaveValue('');
  await page.keyboard.press('k'); // type-ahead: Key compromise
  await expect(page.locator(tid('revoke-reason'))).toHaveValue('keyCompromise');
  await page.keyboard.press('Tab'); // Cancel
  await page.keyboard.press('Tab'); // Continue
  await expect(page.locator(tid('revoke-next'))).toBeFocused();
  await page.keyboard.press('Enter');
  const question = page.locator(tid('revoke-question'));
  await expect(question).toBeFocused();
  await expect(question).toHaveText(`Revoke bob-agent (serial ${serial})? 0 live connections will drop.`);
  await page.keyboard.press('Tab'); // Back
  await page.keyboard.press('Tab'); // Revoke bob-agent
  await expect(page.locator(tid('revoke-confirm'))).toBeFocused();
  await expect(page.locator(tid('revoke-confirm'))).toHaveText('Revoke bob-agent');
  await page.keyboard.press('Enter');
  await expect(row).toHaveAttribute('data-status', 'revoked');
  await expect(page.locator(tid('clients-notice'))).toContainText('Revoked bob-agent');

  // The same serial again, colon-separated: it cannot be revoked, and the dialog says why.
  await page.click(tid('revoke-open'));
  await page.fill(tid('revoke-serial'), (serial.match(/../g) ?? []).join(':'));
  await expect(page.locator(tid('revoke-target'))).toHaveAttribute('data-state', 'blocked');
  await expect(page.locator(tid('revoke-target'))).toContainText('Already revoked');
  await expect(page.locator(tid('revoke-next'))).toBeDisabled();
  await page.fill(tid('revoke-serial'), '0xdeadbeef');
  await expect(page.locator(tid('revoke-target'))).toHaveText(
    'No certificate with this serial was issued by this CA.',
  );
  await page.keyboard.press('Escape');
});

test('renew from the row asks for a folder and says, in one line, why it cannot renew yet', async ({
  fileHarness: h,
}) => {
  const page = h.page;
  // A certificate renews once it is a minute old (renewal.ts); the service tests renew for real.
  const { serial } = await issueViaApi(page, 'erin');
  await page.getByRole('button', { name: 'Renew erin', exact: true }).click();
  const dialog = page.locator(tid('renew-dialog'));
  await expect(page.locator(tid('renew-submit'))).toBeDisabled();
  await page.click(tid('renew-choose-dir'));
  await expect(page.locator(tid('renew-dir'))).toHaveText(h.exportDir);
  await page.click(tid('renew-submit'));
  await expect(dialog.locator(tid('error-alert'))).toContainText(/issued moments ago; try again in \d+ s/);
  await page.keyboard.press('Escape');
  await expect(page.locator(tid(`client-row-${serial}`))).toHaveAttribute('data-status', 'active');
});

test('the detail drawer shows the certificate and copies its PEM', async ({ fileHarness: h }) => {
  const page = h.page;
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const file = path.join(h.exportDir, 'carol.crt');
  const pem = await fs.readFile(file, 'utf8');
  const x = new X509Certificate(pem);
  await page.getByRole('button', { name: 'Details for carol', exact: true }).click();
  const drawer = page.locator(tid('client-drawer'));
  await expect(drawer.locator(tid('detail-subject'))).toHaveText('CN=carol');
  await expect(drawer.locator(tid('detail-key-type'))).toHaveText('EC P-256');
  await expect(drawer.locator(tid('detail-sha256'))).toHaveText(x.fingerprint256);
  const sha1 = createHash('sha1').update(x.raw).digest('hex');
  await expect(drawer.locator(tid('detail-sha1'))).toHaveText(
    (sha1.match(/../g) ?? []).join(':').toUpperCase(),
  );
  await expect(drawer.locator(tid('detail-serial'))).toContainText(x.serialNumber.toLowerCase());
  await expect(drawer.locator(tid('detail-pem'))).toHaveText(pem);
  await expect(drawer).not.toContainText('PRIVATE KEY');
  await h.screenshot('client-detail');
  const copy = page.getByRole('button', { name: 'Copy the PEM of carol' });
  await copy.click();
  await expect(copy).toHaveAttribute('data-copied', 'true');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(pem);
  await page.keyboard.press('Escape');
  await expect(drawer).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Details for carol', exact: true })).toBeFocused();

  // The chain: the re-issued alice@ops points back at the revoked one, and the link opens it.
  const active = clientRow(page, 'alice@ops').and(page.locator('[data-status="active"]'));
  const activeSerial = await rowSerial(active);
  const revokedSerial = await rowSerial(
    clientRow(page, 'alice@ops').and(page.locator('[data-status="revoked"]')),
  );
  await page.click(tid(`client-details-${activeSerial}`));
  await expect(drawer.locator(tid('detail-supersedes'))).toHaveText(revokedSerial);
  await drawer.locator(tid('detail-supersedes')).click();
  await expect(drawer.locator(tid('client-drawer-body'))).toHaveAttribute('data-serial', revokedSerial);
  await expect(drawer.locator(tid('detail-superseded-by'))).toHaveText(activeSerial);
  // "Everything about this certificate": its issuance and its revocation, by the operator.
  await drawer.locator(tid('detail-audit')).click();
  await page.locator(tid('audit')).waitFor();
  await auditSettled(page, { serial: revokedSerial });
  await expect
    .poll(() => auditRows(page, 'data-type'))
    .toEqual(expect.arrayContaining(['client.issued', 'client.revoked']));
  // And one click from a row: its serial opens the same view.
  await goTo(page, 'clients');
  await page.getByRole('button', { name: `Audit for alice@ops, serial ${activeSerial}` }).click();
  await page.locator(tid('audit')).waitFor();
  await auditSettled(page, { serial: activeSerial });
  await expect.poll(() => auditRows(page, 'data-type')).toContain('client.issued');
  expect(fatalPageErrors(h)).toEqual([]);
});

/** axe-core's serious and critical findings (WCAG 2.x A/AA, best practices), as rule: targets. */
async function axeFindings(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

test('the drawer, the CSR and re-issue forms, renew and revoke step 2 have no serious accessibility violations', async ({
  fileHarness: h,
}) => {
  const page = h.page;
  await goTo(page, 'clients');
  const active = clientRow(page, 'alice@ops').and(page.locator('[data-status="active"]'));
  const serial = await rowSerial(active);

  await page.click(tid(`client-details-${serial}`));
  await page.locator(tid('client-drawer-body')).waitFor();
  expect.soft(await axeFindings(page), 'axe: detail drawer').toEqual([]);
  await page.keyboard.press('Escape');

  await page.click(tid(`client-reissue-${serial}`));
  await page.click(tid('issue-key-csr'));
  await page.locator(tid('issue-reissue')).waitFor();
  expect.soft(await axeFindings(page), 'axe: re-issue with a CSR').toEqual([]);
  await page.keyboard.press('Escape');

  await page.getByRole('button', { name: 'Renew alice@ops', exact: true }).click();
  await page.locator(tid('renew-dialog')).waitFor();
  expect.soft(await axeFindings(page), 'axe: renew').toEqual([]);
  await page.keyboard.press('Escape');

  await page.getByRole('button', { name: 'Revoke alice@ops', exact: true }).click();
  await page.selectOption(tid('revoke-reason'), 'superseded');
  await page.click(tid('revoke-next'));
  await page.locator(tid('revoke-question')).waitFor();
  // The pointer rests where Continue was, over the Revoke button: hover colours are not what is judged here.
  await page.mouse.move(0, 0);
  expect.soft(await axeFindings(page), 'axe: revoke, step 2').toEqual([]);
  await page.keyboard.press('Escape');
  await expect(active).toHaveAttribute('data-status', 'active');
});

test('one clock: a certificate turns EXPIRED on screen, and loses its Revoke button, without a reload', async ({
  harness: h,
}) => {
  const page = h.page;
  await page.clock.install();
  await initConsole(page, { listen: `127.0.0.1:${await freePort()}`, upstream: upstream.url });
  const { serial } = await issueViaApi(page, 'short-lived', '1m');
  await goTo(page, 'clients');
  const row = page.locator(tid(`client-row-${serial}`));
  await expect(row).toHaveAttribute('data-status', 'active');
  await expect(page.locator(tid(`client-revoke-${serial}`))).toHaveCount(1);
  await page.clock.fastForward('02:00');
  await expect(row).toHaveAttribute('data-status', 'expired');
  await expect(row.locator(tid('status-badge'))).toHaveText('EXPIRED');
  await expect(page.locator(tid(`client-revoke-${serial}`))).toHaveCount(0);
  // The Dashboard reads the same clock: no countdown for it there either.
  await goTo(page, 'dashboard');
  await expect(page.locator(tid(`countdown-client-${serial}`))).toHaveCount(0);
  expect(fatalPageErrors(h)).toEqual([]);
});
