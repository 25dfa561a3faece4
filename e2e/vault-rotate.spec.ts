import { expect, test, fatalPageErrors } from './fixtures';
import { freePort } from './net';
import { E2E_PASSPHRASE, initConsole, tid } from './ui';

test('Rotate now names the serial it replaces and shows the new one', async ({ harness: h, upstream }) => {
  const page = h.page;
  await initConsole(page, { listen: `127.0.0.1:${await freePort()}`, upstream: upstream.url });
  const before = (await h.service!.status()).server!.serial;
  await page.click(tid('server-rotate'));
  await expect(page.getByRole('dialog')).toContainText(`replace serial ${before}`);
  await page.getByRole('button', { name: 'Rotate', exact: true }).click();
  const notice = page.locator(tid('server-rotated'));
  await expect(notice).toContainText(before);
  const after = (await h.service!.status()).server!.serial;
  expect(after).not.toBe(before);
  await expect(notice).toContainText(after);
  await page.getByRole('button', { name: 'Dismiss the rotation notice' }).click();
  await expect(notice).toHaveCount(0);
  expect(fatalPageErrors(h)).toEqual([]);
});

test('Lock the vault forgets the passphrase, is audited, and the unlock screen takes it again', async ({
  harness: h,
  upstream,
}) => {
  const page = h.page;
  await initConsole(page, { listen: `127.0.0.1:${await freePort()}`, upstream: upstream.url });
  await page.getByRole('button', { name: 'Lock the vault' }).click();
  await expect(page.getByRole('button', { name: 'Lock the vault' })).toHaveCount(0);
  expect((await h.service!.status()).vault.locked).toBe(true);
  const records = await h.service!.auditQuery({ filter: { type: 'vault.locked' } });
  expect(records.records).toHaveLength(1);
  expect(records.records[0]?.actor.kind).toBe('operator');
  // The unlock screen asks for the passphrase again; after it the app is back with its Lock button.
  const pass = page.getByLabel(/passphrase/i).first();
  await pass.fill(E2E_PASSPHRASE);
  await pass.press('Enter');
  await expect(page.getByRole('button', { name: 'Lock the vault' })).toBeVisible();
  expect((await h.service!.status()).vault.locked).not.toBe(true);
  expect(fatalPageErrors(h)).toEqual([]);
});
