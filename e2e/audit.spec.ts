import AxeBuilder from '@axe-core/playwright';
import fs from 'node:fs';
import type { Page } from '@playwright/test';
import { expect, fatalPageErrors, test } from './fixtures';
import { freePort } from './net';
import { auditRows, auditSettled, goTo, initConsole, issueViaApi, tid } from './ui';

/**
 * Issue 10, the Audit panel as an investigation tool: "who did what to this certificate" by CN, serial
 * (as people paste it) and operator; settings changes recorded with what changed; a record opened in
 * full with its hash chain; export of exactly what is filtered; one dismissible notice at a time;
 * live follow with pause; a table a screen reader reads as one.
 */

/** No serious or critical axe-core violation on the screen as it stands (WCAG 2.x A/AA, best practices). */
async function expectAccessible(page: Page, where: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .setLegacyMode(test.info().project.name === 'electron')
    .analyze();
  const bad = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, `axe: ${where}`).toEqual([]);
}

async function api<T>(page: Page, name: string, input: unknown): Promise<T> {
  const res = await page.evaluate(
    async ({ name, input }) => {
      const call = (window.mtls.call as unknown as Record<string, (i: unknown) => Promise<unknown>>)[name];
      if (!call) throw new Error(`no call ${name}`);
      return call(input);
    },
    { name, input },
  );
  const r = res as { ok: true; value: T } | { ok: false; error: { code: string; message: string } };
  if (!r.ok) throw new Error(`${name}: ${r.error.code} ${r.error.message}`);
  return r.value;
}

test('investigates a certificate and the operator’s settings changes, exports what it shows, follows live', async ({
  harness: h,
  upstream,
}) => {
  const { page } = h;
  const port = await freePort();
  await initConsole(page, { listen: `127.0.0.1:${port}`, upstream: upstream.url });
  const alice = await issueViaApi(page, 'alice@ops');
  await issueViaApi(page, 'bob@ops');
  await api(page, 'clients.revoke', { serial: alice.serial, reason: 'keyCompromise' });
  // Switching the listener to 0.0.0.0 must leave a trace with what changed.
  const status = await api<{ gateway: { config: Record<string, unknown> } }>(page, 'status.get', {});
  await api(page, 'gateway.configure', { ...status.gateway.config, listen: `0.0.0.0:${port}` });
  // Auto-start switched on in Settings: saved, shown, and audited like any other setting.
  await goTo(page, 'settings');
  const autoStart = page.getByRole('checkbox', { name: 'Start the gateway when the app launches' });
  await expect(autoStart).not.toBeChecked();
  await autoStart.check();
  await expect(autoStart).toBeChecked();
  await expect
    .poll(async () => (await api<{ autoStart?: boolean }>(page, 'status.get', {})).autoStart)
    .toBe(true);

  await goTo(page, 'audit');
  const all = await auditSettled(page, {});
  // A table with a caption that says what it shows.
  const table = page.getByRole('table', { name: `Audit records, newest first: ${all.total} records` });
  await expect(table).toBeVisible();
  await expect(table.getByRole('columnheader')).toHaveCount(6);
  expect(await table.getByRole('row').count()).toBeGreaterThan(1);

  // By operator: the settings changes, with the operator as their actor.
  await page.fill(tid('audit-filter-actor'), 'e2e-operator');
  await page.fill(tid('audit-filter-type'), 'settings.');
  await auditSettled(page, { actor: 'e2e-operator', type: 'settings.' });
  expect(await auditRows(page, 'data-type')).toEqual(['settings.app.changed', 'settings.gateway.changed']);

  // A record opens in full: every field, the hash chain, nothing cut off.
  const gatewayRow = page.locator(`${tid('audit-row')}[data-type="settings.gateway.changed"]`);
  const seq = (await gatewayRow.getAttribute('data-seq')) ?? '';
  await page.getByRole('button', { name: `Open record ${seq}, settings.gateway.changed` }).click();
  const detail = page.locator(tid('audit-detail'));
  await expect(detail).toHaveAttribute('data-seq', seq);
  await expect(page.locator('.audit-row-on')).toHaveAttribute('data-seq', seq);
  await expect(page.getByRole('heading', { name: `Record ${seq}` })).toBeFocused();
  await expect(detail.locator(tid('audit-detail-actor'))).toHaveText('operator e2e-operator');
  const details = JSON.parse((await detail.locator(tid('audit-detail-details')).textContent()) ?? '{}') as {
    changed: { listen: { from: string; to: string } };
  };
  expect(details.changed.listen).toEqual({ from: `127.0.0.1:${port}`, to: `0.0.0.0:${port}` });
  await expect(detail.locator(tid('audit-detail-hash'))).toHaveText(/^[0-9a-f]{64}$/);
  await expect(detail.locator(tid('audit-detail-previous-hash'))).toHaveText(/^[0-9a-f]{64}$/);
  await page.keyboard.press('Escape');
  await expect(detail).toHaveCount(0);
  await expect(
    page.getByRole('button', { name: `Open record ${seq}, settings.gateway.changed` }),
  ).toBeFocused();
  await page.click(tid('audit-filter-clear'));
  await auditSettled(page, {});

  // A serial as openssl prints it finds the operator's issue and revoke of that certificate.
  const pasted = `serial=${alice.serial.toUpperCase().match(/../g)?.join(':') ?? alice.serial}`;
  await page.fill(tid('audit-filter-serial'), pasted);
  const bySerial = await auditSettled(page, { serial: alice.serial });
  expect(bySerial.total).toBe(2);
  expect(await auditRows(page, 'data-type')).toEqual(['client.revoked', 'client.issued']);
  await expect(
    page.getByRole('table', { name: `Audit records, newest first: 2 of ${bySerial.all} records` }),
  ).toBeVisible();

  // Export writes exactly the filtered records and says the count the screen shows.
  await page.click(tid('audit-export-jsonl'));
  const exported = page.locator(tid('audit-export-result'));
  await expect(exported).toContainText('Exported 2 records matching the filter to ');
  expect(Number(await exported.getAttribute('data-count'))).toBe(bySerial.total);
  const lines = fs
    .readFileSync((await exported.getAttribute('data-path')) ?? '', 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  expect(lines.map((l) => (JSON.parse(l) as { serial: string }).serial)).toEqual([
    alice.serial,
    alice.serial,
  ]);

  // Notices replace each other and can be dismissed: never a pile.
  await page.click(tid('audit-verify'));
  await expect(page.locator(tid('audit-verify-result'))).toHaveAttribute('data-ok', 'true', {
    timeout: 60_000,
  });
  await expect(exported).toHaveCount(0);
  await expect(page.locator('.audit-notice')).toHaveCount(1);
  await page.getByRole('button', { name: 'Dismiss notice' }).click();
  await expect(page.locator('.audit-notice')).toHaveCount(0);

  // "Everything about this certificate" from an open record.
  await page.click(tid('audit-filter-clear'));
  await auditSettled(page, {});
  await page.fill(tid('audit-filter-text'), 'bob@ops');
  await auditSettled(page, { text: 'bob@ops' });
  await page.locator(`${tid('audit-row')}[data-type="client.issued"]`).click();
  await page.click(tid('audit-detail-certificate'));
  await expect(page.locator(tid('audit-detail'))).toHaveCount(0);
  await expect(page.locator(tid('audit-filter-text'))).toHaveValue('');
  await expect(page.locator(tid('audit-filter-serial'))).not.toHaveValue('');
  for (const cn of await auditRows(page, 'data-cn')) expect(cn).toBe('bob@ops');
  await page.click(tid('audit-filter-clear'));
  await auditSettled(page, {});

  // A time bound typed in the UI's format; a bad one is said, not sent.
  await page.fill(tid('audit-filter-from'), 'yesterday');
  await expect(page.locator(tid('audit-filter-from'))).toHaveAttribute('aria-invalid', 'true');
  await page.fill(tid('audit-filter-from'), '2099-01-01');
  const future = await auditSettled(page, { from: new Date(2099, 0, 1).toISOString() });
  expect(future.total).toBe(0);
  await page.click(tid('audit-filter-clear'));
  await auditSettled(page, {});

  // Live follow: a new record lands on top; paused, it is counted instead; resumed, it shows.
  const top = async () => (await auditRows(page, 'data-seq'))[0];
  await issueViaApi(page, 'carol');
  // On top, give or take a signed checkpoint written after it.
  const nearTop = async () => (await auditRows(page, 'data-cn')).slice(0, 3);
  await expect.poll(nearTop).toContain('carol');
  const follow = page.locator(tid('audit-follow'));
  await expect(follow).toHaveText('Pause live');
  await follow.click();
  await expect(follow).toHaveAttribute('aria-pressed', 'true');
  const before = await top();
  await issueViaApi(page, 'dave');
  await expect(follow).toHaveText(/^Resume live \(\d+ new\)$/);
  expect(await top()).toBe(before);
  await follow.click();
  await expect(follow).toHaveAttribute('aria-pressed', 'false');
  await expect.poll(nearTop).toContain('dave');
  await page.locator(tid('audit-open')).first().click();
  await expect(page.locator(tid('audit-detail'))).toBeVisible();
  await h.screenshot('audit-detail');
  await expectAccessible(page, 'audit, a record open');
  expect(fatalPageErrors(h)).toEqual([]);
});
