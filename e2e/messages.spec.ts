import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { freePort } from './net';
import { goTo, initConsole, tid } from './ui';

/**
 * Validation messages are sentences for operators (issue 10): "Enter a number", not zod's
 * "expected number, received NaN" or "Too small: expected string to have >=1 characters".
 */

const RAW = /received|expected|Too small|Too big|Invalid input|NaN/;

async function shownErrors(page: Page): Promise<string[]> {
  return page.locator('.field-error, [role="alert"]').allInnerTexts();
}

test('the wizard, Settings and the issue dialog say what to enter', async ({ harness: h, upstream }) => {
  const { page } = h;
  await page.locator(tid('wizard-step-algorithm')).waitFor();
  await page.click(tid('wizard-next'));
  await page.fill(tid('wizard-ca-name'), '   ');
  await page.click(tid('wizard-next'));
  await expect(page.locator(tid('wizard-step-ca'))).toContainText('Enter a CA name');
  await page.fill(tid('wizard-ca-name'), 'Messages CA');
  await page.click(tid('wizard-next'));
  await page.fill(tid('wizard-server-days'), '');
  await page.click(tid('wizard-next'));
  await expect(page.locator(tid('wizard-step-server'))).toContainText('Enter a number');
  await page.fill(tid('wizard-server-days'), '4000');
  await page.click(tid('wizard-next'));
  await expect(page.locator(tid('wizard-step-server'))).toContainText('Enter 3,650 or less');
  for (const m of await shownErrors(page)) expect(m).not.toMatch(RAW);

  // A fresh console for Settings (the wizard's own run is covered by keyboard.spec.ts).
  await page.reload();
  await initConsole(page, { listen: `127.0.0.1:${await freePort()}`, upstream: upstream.url });
  await goTo(page, 'settings');
  const form = page.locator(tid('settings-form'));
  await page.fill(tid('settings-max-connections'), '');
  await page.fill(tid('settings-max-per-identity'), '0');
  await page.click(tid('settings-save'));
  await expect(form).toContainText('Enter a number');
  await expect(form).toContainText('at least 1');
  await page.fill(tid('settings-listen'), 'nowhere');
  await page.click(tid('settings-save'));
  await expect(form).toContainText('HOST:PORT');
  const errors = await shownErrors(page);
  expect(errors.length).toBeGreaterThan(0);
  for (const m of errors) expect(m).not.toMatch(RAW);

  // The issue dialog: an empty name and an unreadable lifetime.
  await goTo(page, 'clients');
  await page.click(tid('issue-open'));
  const dialog = page.locator(tid('issue-dialog'));
  await page.fill(tid('issue-ttl-custom'), 'soon');
  await page.click(tid('issue-submit'));
  await expect(dialog.locator('.field-error').first()).toBeVisible();
  const dialogErrors = await dialog.locator('.field-error, [role="alert"]').allInnerTexts();
  expect(dialogErrors.join(' | ')).toMatch(/name/i);
  for (const m of dialogErrors) expect(m).not.toMatch(RAW);
});
