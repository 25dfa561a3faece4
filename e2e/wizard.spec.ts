import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { derivedPaths } from '../src/main/service/paths';
import { expect, fatalPageErrors, test } from './fixtures';
import { freePort } from './net';
import { E2E_PASSPHRASE, goTo, tid } from './ui';

/**
 * What the wizard creates is what the operator typed (issue 10): a host left in the box is in the
 * server certificate, and a remote upstream allowed in the wizard is allowed in the saved settings.
 */
test('a host typed but not added and an allowed remote upstream reach the CA that is created', async ({
  harness: h,
}) => {
  const { page } = h;
  const port = await freePort();
  await page.locator(tid('wizard-step-algorithm')).waitFor();
  await page.click(tid('wizard-next'));
  await page.fill(tid('wizard-ca-name'), 'Wizard CA');
  await page.click(tid('wizard-next'));

  // Two hosts in the box, comma-separated, never "Add"ed.
  await page.fill(tid('wizard-host-input'), 'gw.ops.internal, 10.9.8.7');
  await page.click(tid('wizard-next'));
  await page.locator(tid('wizard-step-gateway')).waitFor();
  await page.click(tid('wizard-back'));
  await expect(page.locator(tid('wizard-host-chip-gw.ops.internal'))).toBeVisible();
  await expect(page.locator(tid('wizard-host-chip-10.9.8.7'))).toBeVisible();
  await expect(page.locator(tid('wizard-host-input'))).toHaveValue('');
  await page.click(tid('wizard-next'));

  await page.fill(tid('wizard-listen'), `127.0.0.1:${port}`);
  await page.fill(tid('wizard-upstream'), 'http://10.1.2.3:8080');
  await page.click(tid('wizard-next'));
  await expect(page.locator(tid('wizard-step-gateway'))).toContainText('10.1.2.3 is not a loopback address');
  await page.check(tid('wizard-allow-remote-upstream'));
  await page.click(tid('wizard-next'));

  await page.check(tid('wizard-vault-passphrase'));
  await page.fill(tid('wizard-passphrase'), E2E_PASSPHRASE);
  await page.fill(tid('wizard-passphrase-confirm'), E2E_PASSPHRASE);
  await page.click(tid('wizard-next'));
  await expect(page.locator(tid('wizard-review'))).toContainText(
    'http://10.1.2.3:8080 (non-loopback allowed)',
  );
  await page.click(tid('wizard-create'));
  await page.locator(tid('dashboard')).waitFor({ timeout: 60_000 });

  // The server certificate names every host; the setting is saved and shown in Settings.
  const cert = new X509Certificate(fs.readFileSync(derivedPaths(h.stateDir).serverCert));
  expect(cert.subjectAltName).toContain('DNS:gw.ops.internal');
  expect(cert.subjectAltName).toContain('IP Address:10.9.8.7');
  await goTo(page, 'settings');
  await expect(page.locator(tid('settings-upstream'))).toHaveValue('http://10.1.2.3:8080');
  await expect(page.locator(tid('settings-allow-remote-upstream'))).toBeChecked();
  expect(fatalPageErrors(h)).toEqual([]);
});
