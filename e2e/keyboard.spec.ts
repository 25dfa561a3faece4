import type { Page } from '@playwright/test';
import { expect, fatalPageErrors, test } from './fixtures';
import { freePort } from './net';
import { clientRow, E2E_PASSPHRASE, initConsole, tid } from './ui';

/**
 * Keyboard only (issue 10): the wizard and the issue dialog driven with Tab, Shift+Tab, typing,
 * Space, Enter and Escape, never a click. Dialogs trap focus and give it back; each wizard step
 * hands focus to its heading; focus is always visible.
 */

const active = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return {
      testId: el?.getAttribute('data-testid') ?? null,
      tag: el?.tagName.toLowerCase() ?? null,
      text: el?.textContent?.trim() ?? '',
      inDialog: el?.closest('[role="dialog"]') !== null && el?.closest('[role="dialog"]') !== undefined,
    };
  });

/** Presses Tab (Shift+Tab with `back`) until the element with `testId` has focus; at most `max` times. */
async function tabTo(page: Page, testId: string, opts: { back?: boolean; max?: number } = {}): Promise<void> {
  const key = opts.back ? 'Shift+Tab' : 'Tab';
  const seen: string[] = [];
  for (let i = 0; i < (opts.max ?? 40); i++) {
    await page.keyboard.press(key);
    const a = await active(page);
    if (a.testId === testId) return;
    seen.push(a.testId ?? `${a.tag}:${a.text.slice(0, 20)}`);
  }
  throw new Error(`${key} never reached ${testId}; focus went through: ${seen.join(' → ')}`);
}

/** Replaces the focused text field's value by typing. */
async function retype(page: Page, text: string): Promise<void> {
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Backspace');
  await page.keyboard.type(text);
}

/** The focused element draws an outline or a ring a sighted keyboard user can see. */
async function focusIsVisible(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return false;
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const ring = s.boxShadow !== 'none';
    return outline || ring;
  });
}

async function expectHeadingFocused(page: Page, title: string): Promise<void> {
  await expect
    .poll(async () => {
      const a = await active(page);
      return a.testId === 'wizard-heading' ? a.text : `(focus on ${a.testId ?? a.tag})`;
    })
    .toBe(title);
}

test('the wizard, keyboard only: focus follows the steps, typed hosts are kept, remote upstream needs the choice', async ({
  harness: h,
  upstream,
}) => {
  const { page } = h;
  const port = await freePort();
  await page.locator(tid('wizard-step-algorithm')).waitFor();

  // Step 1: the algorithm radio group, then Next.
  await tabTo(page, 'wizard-algorithm-ecdsa-p256');
  expect(await focusIsVisible(page)).toBe(true);
  await tabTo(page, 'wizard-next');
  expect(await focusIsVisible(page)).toBe(true);
  await page.keyboard.press('Enter');

  // Step 2: focus on the step's heading; an empty name is refused in words; Enter submits.
  await expectHeadingFocused(page, 'CA name');
  await page.keyboard.press('Tab');
  expect((await active(page)).testId).toBe('wizard-ca-name');
  await retype(page, '');
  await page.keyboard.press('Enter');
  await expect(page.locator(tid('wizard-step-ca'))).toContainText('Enter a CA name');
  await retype(page, 'Keyboard CA');
  await page.keyboard.press('Enter');

  // Step 3: "bad host" is one bad name, refused; a host typed but not added is added by Next.
  await expectHeadingFocused(page, 'Server certificate');
  await tabTo(page, 'wizard-host-input');
  await page.keyboard.type('bad host');
  await page.keyboard.press('Enter');
  await expect(page.locator(tid('wizard-host-error'))).toContainText('"bad host" is not a host name');
  await expect(page.locator(tid('wizard-host-chip-bad'))).toHaveCount(0);
  await expect(page.locator(tid('wizard-host-chip-host'))).toHaveCount(0);
  // Next with the bad entry still in the box: refused there, the step stays.
  await tabTo(page, 'wizard-next');
  await page.keyboard.press('Enter');
  await expect(page.locator(tid('wizard-step-server'))).toBeVisible();
  await expect(page.locator(tid('wizard-host-error'))).toBeVisible();
  expect((await active(page)).testId).toBe('wizard-host-input');
  await retype(page, 'gw.ops.internal');
  await tabTo(page, 'wizard-next');
  await page.keyboard.press('Enter');

  // Step 4: a non-loopback upstream is refused until "Allow non-loopback upstream" is chosen.
  await expectHeadingFocused(page, 'Gateway');
  await tabTo(page, 'wizard-listen');
  await retype(page, `127.0.0.1:${port}`);
  await page.keyboard.press('Tab');
  await retype(page, 'http://10.1.2.3:8080');
  await page.keyboard.press('Enter');
  await expect(page.locator(tid('wizard-step-gateway'))).toContainText(
    '10.1.2.3 is not a loopback address; tick "Allow non-loopback upstream"',
  );
  await tabTo(page, 'wizard-allow-remote-upstream');
  await page.keyboard.press('Space');
  await expect(page.locator(tid('wizard-allow-remote-upstream'))).toBeChecked();
  await expect(page.locator(tid('wizard-step-gateway'))).not.toContainText('is not a loopback address');
  // Back to a loopback upstream (the one this test serves), and the choice off again.
  await page.keyboard.press('Space');
  await tabTo(page, 'wizard-upstream', { back: true });
  await retype(page, upstream.url);
  await page.keyboard.press('Enter');

  // Step 5: the passphrase vault (arrow keys move within the radio group).
  await expectHeadingFocused(page, 'Key vault');
  await page.keyboard.press('Tab');
  if ((await active(page)).testId !== 'wizard-vault-passphrase') await page.keyboard.press('ArrowDown');
  await expect(page.locator(tid('wizard-vault-passphrase'))).toBeChecked();
  await tabTo(page, 'wizard-passphrase');
  await page.keyboard.type('short');
  await page.keyboard.press('Enter');
  await expect(page.locator(tid('wizard-step-vault'))).toContainText('Use at least 12 characters');
  await retype(page, E2E_PASSPHRASE);
  await page.keyboard.press('Tab');
  await page.keyboard.type(E2E_PASSPHRASE);
  await page.keyboard.press('Enter');

  // Review: what was typed, including the host that was never "added".
  await expectHeadingFocused(page, 'Review');
  const review = page.locator(tid('wizard-review'));
  await expect(review).toContainText('localhost, 127.0.0.1, gw.ops.internal');
  await expect(review).toContainText(upstream.url);
  await tabTo(page, 'wizard-create');
  await page.keyboard.press('Enter');
  await page.locator(tid('dashboard')).waitFor({ timeout: 60_000 });
  expect(fatalPageErrors(h)).toEqual([]);
});

test('the issue dialog, keyboard only: focus is trapped, Escape closes, focus returns to the opener', async ({
  harness: h,
  upstream,
}) => {
  const { page } = h;
  await initConsole(page, { listen: `127.0.0.1:${await freePort()}`, upstream: upstream.url });

  await tabTo(page, 'nav-clients');
  expect(await focusIsVisible(page)).toBe(true);
  await page.keyboard.press('Enter');
  await page.locator(tid('clients')).waitFor();
  await tabTo(page, 'issue-open');
  await page.keyboard.press('Enter');
  const dialog = page.locator(tid('issue-dialog'));
  await dialog.waitFor();
  expect((await active(page)).testId).toBe('issue-name');
  expect(await focusIsVisible(page)).toBe(true);

  // The page behind is inert: no focus, no clicks, not in the accessibility tree.
  expect(await page.locator('nav').evaluate((n) => n.closest('[inert]') !== null)).toBe(true);
  expect(await page.locator(tid('issue-open')).evaluate((n) => n.closest('[inert]') !== null)).toBe(true);

  // Tab and Shift+Tab past either end stay inside the dialog.
  const count = await dialog.evaluate(
    (d) =>
      [...d.querySelectorAll<HTMLElement>('button, input, select, textarea, [tabindex]')].filter(
        (e) => e.tabIndex >= 0 && !(e as HTMLInputElement).disabled && e.getClientRects().length > 0,
      ).length,
  );
  for (const key of ['Shift+Tab', 'Tab'] as const) {
    for (let i = 0; i < count + 3; i++) {
      await page.keyboard.press(key);
      const a = await active(page);
      expect(a.inDialog, `${key} ×${i + 1} left the dialog for ${a.testId ?? a.tag}`).toBe(true);
    }
  }

  // Escape closes it, and focus goes back to "Issue certificate…".
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  expect((await active(page)).testId).toBe('issue-open');
  expect(await page.locator('nav').evaluate((n) => n.closest('[inert]') !== null)).toBe(false);

  // Again, and issue for real: name, lifetime, folder (the stubbed native dialog), Issue.
  await page.keyboard.press('Enter');
  await dialog.waitFor();
  expect((await active(page)).testId).toBe('issue-name');
  await page.keyboard.type('kbd-user');
  await tabTo(page, 'issue-ttl-7d');
  await page.keyboard.press('Space');
  await tabTo(page, 'issue-choose-dir');
  await page.keyboard.press('Enter');
  await expect(page.locator(tid('issue-dir'))).toContainText(h.exportDir);
  await tabTo(page, 'issue-submit');
  await page.keyboard.press('Enter');
  await page.locator(tid('issue-done')).waitFor();
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  expect((await active(page)).testId).toBe('issue-open');
  await expect(clientRow(page, 'kbd-user')).toHaveAttribute('data-status', 'active');

  // From the top of a fresh page, the first Tab stop skips the menu.
  await page.reload();
  await page.locator(tid('dashboard')).waitFor();
  await page.keyboard.press('Tab');
  expect((await active(page)).text).toBe('Skip to content');
  expect(await focusIsVisible(page)).toBe(true);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.closest('main') !== null)).toBe(true);
  expect(fatalPageErrors(h)).toEqual([]);
});

test('the confirm dialog starts on Cancel, closes on Escape and gives focus back', async ({
  harness: h,
  upstream,
}) => {
  const { page } = h;
  await initConsole(page, { listen: `127.0.0.1:${await freePort()}`, upstream: upstream.url });
  await tabTo(page, 'server-rotate', { max: 60 });
  await page.keyboard.press('Enter');
  const confirm = page.locator(tid('confirm-dialog'));
  await confirm.waitFor();
  // The safe choice has focus: Enter by habit does not rotate.
  expect((await active(page)).testId).toBe('confirm-cancel');
  await page.keyboard.press('Escape');
  await expect(confirm).toHaveCount(0);
  expect((await active(page)).testId).toBe('server-rotate');
  await page.keyboard.press('Enter');
  await confirm.waitFor();
  await page.keyboard.press('Enter');
  await expect(confirm).toHaveCount(0);
  expect((await active(page)).testId).toBe('server-rotate');
  expect(fatalPageErrors(h)).toEqual([]);
});
