import { expect, test } from './fixtures';
import { populate, STOPS } from './tour';
import { tid } from './ui';

/**
 * Every screen at the smallest supported window and at full HD (issue 10), written to
 * e2e/screenshots/<screen>-<W>x<H>.png, with the layout promises checked on the way: at 1024×700
 * the Clients table's actions are on screen; at 1920 the content uses the width; nothing widens the
 * window; times are 24-hour and dates ISO-like, with no locale-dependent native pickers.
 */

const SIZES = [
  { width: 1024, height: 700 },
  { width: 1920, height: 1080 },
] as const;

test('screenshots of every screen at 1024×700 and 1920×1080', async ({ harness: h, upstream }) => {
  const { page } = h;
  await page.locator(tid('wizard-step-algorithm')).waitFor();
  for (const s of SIZES) {
    await h.resize(s.width, s.height);
    await h.screenshot(`wizard-${s.width}x${s.height}`);
  }

  const pop = await populate(h, upstream);
  try {
    for (const stop of STOPS) {
      await stop.open(page, pop);
      // One time format (issue 10): ISO-like dates and 24-hour clocks, whatever the locale.
      const text = await page.locator('body').innerText();
      expect(text, `${stop.name}: a 12-hour time`).not.toMatch(/\d{1,2}:\d{2}(:\d{2})?\s?(AM|PM|am|pm)\b/);
      expect(text, `${stop.name}: a mm/dd/yyyy date`).not.toMatch(/\b\d{1,2}\/\d{1,2}\/\d{2,4}\b/);
      expect(
        await page.locator('input[type="date"], input[type="datetime-local"], input[type="time"]').count(),
      ).toBe(0);
      for (const s of SIZES) {
        await h.resize(s.width, s.height);
        await h.screenshot(`${stop.name}-${s.width}x${s.height}`);
        // Nothing widens the window: what does not fit scrolls inside the content column.
        const docWidth = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(docWidth, `${stop.name} document width at ${s.width}px`).toBeLessThanOrEqual(s.width);
        if (stop.name === 'clients') {
          // Every row's last action (Revoke) is inside the window without scrolling sideways.
          const revoke = page.locator(tid(`client-revoke-${pop.alice}`));
          await expect(revoke).toBeInViewport();
          const box = await revoke.boundingBox();
          expect(box && box.x + box.width, `Revoke at ${s.width}px`).toBeLessThanOrEqual(s.width);
        }
        if (s.width >= 1920 && ['dashboard', 'clients', 'audit'].includes(stop.name)) {
          const page0 = page.locator('.main > .page, .main > [data-testid]').first();
          const width = (await page0.boundingBox())?.width ?? 0;
          expect(width, `${stop.name} content width at ${s.width}px`).toBeGreaterThan(s.width - 208 - 120);
        }
      }
      await h.resize(1280, 820);
      await stop.close?.(page);
    }
  } finally {
    pop.live.destroy();
  }
});
