import { CALL_NAME_LIST } from '../src/shared/channels';
import { expect, test } from './fixtures';

/**
 * What the page itself can reach through `window.mtls` (the preload's shape in Electron, the
 * bridge's in Chromium): exactly the contract's calls, each validated by main before it runs.
 */

test.describe('window.mtls', () => {
  test('exposes exactly the contract calls and on()', async ({ harness: h }) => {
    const shape = await h.page.evaluate(() => ({
      calls: Object.keys(window.mtls.call).sort(),
      keys: Object.keys(window.mtls).sort(),
      hasIpc: 'ipcRenderer' in window || 'require' in window || 'process' in window,
    }));
    expect(shape.calls).toEqual([...CALL_NAME_LIST].sort());
    expect(shape.keys).toEqual(['call', 'on']);
    expect(shape.hasIpc).toBe(false);
  });

  test('answers an empty state and refuses bad input with a typed error', async ({ harness: h }) => {
    const res = await h.page.evaluate(async () => ({
      status: await window.mtls.call['status.get']({}),
      issue: await window.mtls.call['clients.issue']({
        name: '../etc/passwd',
        duration: '24h',
        outDir: '/tmp',
      }),
      extra: await (window.mtls.call['status.get'] as (i: unknown) => Promise<unknown>)({ sneaky: true }),
    }));
    expect(res.status).toMatchObject({ ok: true, value: { initialized: false } });
    expect(res.issue).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    expect(JSON.stringify(res.issue)).toContain('name');
    expect(res.extra).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });

  test('refuses unknown events', async ({ harness: h }) => {
    const msg = await h.page.evaluate(() => {
      try {
        (window.mtls.on as (e: string, l: () => void) => () => void)('keys.leaked', () => undefined);
        return 'subscribed';
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(msg).toContain('unknown event');
  });
});
