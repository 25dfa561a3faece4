import AxeBuilder from '@axe-core/playwright';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { expect, fatalPageErrors, test, type Harness } from './fixtures';
import { freePort, mtlsClient, type MtlsClient } from './net';
import { auditSettled, goTo, initConsole, issueViaApi, startGateway, tid, tidPrefix } from './ui';

/**
 * Issue 10, live connections as an operator tells them apart and acts on them: source address:port,
 * TLS version and cipher, sorting, a text filter, grouping by certificate, killing one or all of a
 * certificate by accessible name, the audit of a connection's certificate one click away, the chart
 * in words; and a dead upstream that the Dashboard and the status bar say out loud.
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

function client(h: Harness, port: number, name: string): MtlsClient {
  return mtlsClient({
    port,
    cert: path.join(h.exportDir, `${name}.crt`),
    key: path.join(h.exportDir, `${name}.key`),
    ca: path.join(h.exportDir, 'ca.crt'),
  });
}

/** The source address:port the gateway sees for a client's kept-alive socket. */
function sourceOf(c: MtlsClient): string {
  const s = c.socket();
  if (!s?.localPort) throw new Error('no socket yet');
  return `127.0.0.1:${s.localPort}`;
}

test('sorts, filters, groups and kills live connections, each named by certificate and source', async ({
  harness: h,
  upstream,
}) => {
  const { page } = h;
  const port = await freePort();
  await initConsole(page, { listen: `127.0.0.1:${port}`, upstream: upstream.url });
  await issueViaApi(page, 'alice@ops');
  const bob = await issueViaApi(page, 'bob@ops');
  await startGateway(page);

  const a1 = client(h, port, 'alice@ops');
  const a2 = client(h, port, 'alice@ops');
  const b1 = client(h, port, 'bob@ops');
  const clients = [a1, a2, b1];
  try {
    for (const c of clients) expect((await c.get('/hello')).status).toBe(200);
    // a2 is the busiest: sorting by requests puts it on top.
    for (let i = 0; i < 3; i++) expect((await a2.get(`/more/${i}`)).status).toBe(200);
    const [s1, s2, s3] = clients.map(sourceOf) as [string, string, string];

    await goTo(page, 'connections');
    const rows = page.locator(`tr${tidPrefix('connection-row-')}`);
    await expect(rows).toHaveCount(3);
    await expect(page.locator(tid('connections-count'))).toContainText('3');

    // Source address:port tells the two alice@ops connections apart; TLS version and cipher show.
    const addresses = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-address')));
    expect([...addresses].sort()).toEqual([s1, s2, s3].sort());
    for (const tls of await page.locator(tid('connection-tls')).allTextContents())
      expect(tls).toMatch(/^TLSv1\.3\s*TLS_[A-Z0-9_]+$/);

    // Buttons name their object: "Kill connection alice@ops 127.0.0.1:51234", "Audit for bob@ops".
    await expect(page.getByRole('button', { name: `Kill connection alice@ops ${s1}` })).toBeVisible();
    await expect(page.getByRole('button', { name: `Kill connection bob@ops ${s3}` })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Audit for bob@ops' })).toBeVisible();

    // Sort by any column: requests, largest first, then flipped.
    await page.click(tid('connections-sort-requests'));
    await expect(rows.first()).toHaveAttribute('data-address', s2);
    await expect(page.locator('th[aria-sort="descending"]')).toContainText('Requests');
    await page.click(tid('connections-sort-requests'));
    await expect(rows.last()).toHaveAttribute('data-address', s2);
    await page.click(tid('connections-sort-address'));
    await expect(page.locator('th[aria-sort="ascending"]')).toContainText('Source');

    // A text filter over CN, serial, address:port and TLS.
    await page.fill(tid('connections-filter'), 'bob');
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toHaveAttribute('data-address', s3);
    await page.fill(tid('connections-filter'), s1);
    await expect(rows).toHaveCount(1);
    await page.fill(tid('connections-filter'), 'nobody-at-all');
    await expect(page.locator('td.empty')).toHaveText('No live connections match the filter.');
    await page.fill(tid('connections-filter'), '');
    await expect(rows).toHaveCount(3);

    // The chart in words (its canvas says nothing to a screen reader).
    await expect(page.locator(tid('connections-chart-summary'))).toContainText('3 open connections now');

    // Grouped by certificate, then every alice@ops connection killed at once.
    await page.check(tid('connections-group'));
    await expect(page.locator(tidPrefix('connections-group-'))).toHaveCount(2);
    await expectAccessible(page, 'connections, grouped');
    await page.getByRole('button', { name: 'Kill all for alice@ops' }).click();
    await page.click(tid('confirm-ok'));
    await Promise.all([a1.closed(), a2.closed()]);
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toHaveAttribute('data-address', s3);

    // One connection killed by its own button.
    await page.getByRole('button', { name: `Kill connection bob@ops ${s3}` }).click();
    await page.click(tid('confirm-ok'));
    await b1.closed();
    await expect(page.locator('td.empty')).toHaveText('No live connections.');

    // Everything about a connection's certificate, one click away (a fresh connection of bob@ops).
    const b2 = client(h, port, 'bob@ops');
    clients.push(b2);
    expect((await b2.get('/again')).status).toBe(200);
    await page.getByRole('button', { name: 'Audit for bob@ops' }).click();
    await page.locator(tid('audit')).waitFor();
    await auditSettled(page, { serial: bob.serial });
    await expect(page.locator(tid('audit-filter-serial'))).toHaveValue(bob.serial);
    const cns = await page
      .locator(tid('audit-row'))
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-cn')));
    expect(cns.length).toBeGreaterThan(0);
    for (const cn of cns) expect(cn).toBe('bob@ops');
    const types = await page
      .locator(tid('audit-row'))
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-type')));
    expect(types).toContain('client.issued');
    expect(types).toContain('gateway.connection.closed');
  } finally {
    for (const c of clients) c.destroy();
  }
  expect(fatalPageErrors(h)).toEqual([]);
});

test('shows a dead upstream on the Dashboard and in the status bar, in words', async ({ harness: h }) => {
  const { page } = h;
  const port = await freePort();
  const deadUpstream = await freePort(); // nothing listens there
  await initConsole(page, { listen: `127.0.0.1:${port}`, upstream: `http://127.0.0.1:${deadUpstream}` });
  await issueViaApi(page, 'alice@ops');
  await startGateway(page);
  await expect(page.locator(tid('gateway-upstream-warning'))).toHaveCount(0);

  const alice = client(h, port, 'alice@ops');
  try {
    expect((await alice.get('/down')).status).toBe(502);
    expect((await alice.get('/still-down')).status).toBe(502);
    const bar = page.locator(tid('status-bar'));
    await expect(bar).toHaveAttribute('data-upstream-down', 'true');
    await expect(bar).toContainText(/Gateway running — upstream unreachable: ECONNREFUSED \d+ s ago/);
    const warning = page.locator(tid('gateway-upstream-warning'));
    await expect(warning).toContainText('Warning: upstream unreachable: ECONNREFUSED');
    await expect(warning).toContainText('2 of 2 requests got a 5xx answer in the last minute');
    await expect(page.locator(tid('gateway-state'))).toHaveAttribute('data-state', 'running');
    await h.screenshot('dashboard-upstream-down');
    await expectAccessible(page, 'dashboard, upstream down');
  } finally {
    alice.destroy();
  }
  expect(fatalPageErrors(h)).toEqual([]);
});
