import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { populate, STOPS } from './tour';
import { completeWizard, E2E_PASSPHRASE, tid } from './ui';

/**
 * axe-core over every screen (issue 10): the wizard's steps, the app's screens and dialogs, the
 * unlock screen. No serious or critical violation (WCAG 2.x A/AA and best practices). Each screen
 * is a soft check, so one run lists every screen that fails.
 */

interface Finding {
  readonly rule: string;
  readonly impact: string;
  readonly help: string;
  readonly where: string[];
}

async function seriousViolations(page: Page): Promise<Finding[]> {
  const { violations } = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    // Electron's window cannot open the helper page axe uses to merge frame results; we have one frame.
    .setLegacyMode(test.info().project.name === 'electron')
    .analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      rule: v.id,
      impact: v.impact ?? '',
      help: v.help,
      where: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`),
    }));
}

async function check(page: Page, screen: string): Promise<void> {
  expect.soft(await seriousViolations(page), `axe: ${screen}`).toEqual([]);
}

test('the wizard’s steps have no serious accessibility violations', async ({ harness: h, upstream }) => {
  const { page } = h;
  await page.locator(tid('wizard')).waitFor();
  await completeWizard(
    page,
    { caName: 'A11y CA', passphrase: E2E_PASSPHRASE, listen: '127.0.0.1:0', upstream: upstream.url },
    async () => check(page, 'wizard-review'),
    async (step) => {
      await check(page, `wizard-${step}`);
    },
  );
  await page.locator(tid('dashboard')).waitFor();
});

// The refused-input state of a step: messages announced and tied to their fields.
test('the wizard’s error messages have no serious accessibility violations', async ({ harness: h }) => {
  const { page } = h;
  await page.locator(tid('wizard-step-algorithm')).waitFor();
  await page.click(tid('wizard-next'));
  await page.fill(tid('wizard-ca-name'), '');
  await page.click(tid('wizard-next'));
  await expect(page.locator(tid('wizard-step-ca'))).toContainText('Enter a CA name');
  await check(page, 'wizard-ca-error');
  await page.fill(tid('wizard-ca-name'), 'A11y CA');
  await page.click(tid('wizard-next'));
  await page.fill(tid('wizard-host-input'), 'bad host');
  await page.click(tid('wizard-next'));
  await expect(page.locator(tid('wizard-host-error'))).toBeVisible();
  await check(page, 'wizard-server-error');
});

test('every screen and dialog has no serious accessibility violations', async ({ harness: h, upstream }) => {
  const pop = await populate(h, upstream);
  try {
    for (const stop of STOPS) {
      await stop.open(h.page, pop);
      await check(h.page, stop.name);
      await stop.close?.(h.page);
    }
  } finally {
    pop.live.destroy();
  }
});
