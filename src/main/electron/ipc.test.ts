import { describe, expect, it, vi } from 'vitest';
import {
  CALL_NAMES,
  EVENT_NAMES,
  type CallName,
  type EventName,
  type EventPayloads,
} from '../../shared/contract';
import { CALL_NAME_LIST, EVENT_NAME_LIST } from '../../shared/channels';
import { ERROR_CODES } from '../../shared/errors';
import { ConsoleError } from '../errors';
import {
  INTERNAL_MESSAGE,
  createEventGate,
  createIpcDispatcher,
  createSenderPolicy,
  type CallHandler,
  type IpcSender,
} from './ipc';

// This file must not load `electron` (the binary is absent here): everything under test is in ipc.ts.

const APP_URL = 'file:///opt/mtls-console/resources/app.asar/out/renderer/index.html';
const WC_ID = 7;
const goodSender: IpcSender = { url: APP_URL, webContentsId: WC_ID, isMainFrame: true };
const policy = createSenderPolicy({ webContentsId: () => WC_ID, appUrl: APP_URL });

function setup(impl?: (call: CallName, input: unknown) => unknown) {
  const handler = vi.fn(async (call: CallName, input: unknown) =>
    impl ? impl(call, input) : { call, input },
  );
  const onInternalError = vi.fn();
  const dispatcher = createIpcDispatcher({
    handle: handler as CallHandler,
    isAllowedSender: policy,
    onInternalError,
  });
  return { handler, dispatcher, onInternalError };
}

const SERIAL = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const GW = {
  listen: '127.0.0.1:19821',
  upstream: 'http://127.0.0.1:18970',
  maxConnections: 50,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  allowRemoteUpstream: false,
};

/** One valid input per call: the handler must see it (proves the refusals below are about the input). */
const VALID: Record<CallName, unknown> = {
  'status.get': {},
  'ca.init': {
    algorithm: 'ecdsa-p256',
    caName: 'Ops CA',
    hosts: ['localhost', '127.0.0.1'],
    serverDays: 90,
    vault: 'passphrase',
    passphrase: 'correct horse',
  },
  'vault.unlock': { passphrase: 'correct horse' },
  'vault.lock': {},
  'clients.list': {},
  'clients.chooseExportDir': {},
  'clients.issue': { name: 'alice@ops', duration: '24h', outDir: '/tmp/out' },
  'clients.get': { serial: SERIAL },
  'clients.renew': { serial: SERIAL, outDir: '/tmp/out' },
  'clients.revoke': { serial: SERIAL, reason: 'keyCompromise' },
  'server.rotate': { days: 30 },
  'ca.rollover.status': {},
  'ca.rollover.start': {},
  'ca.rollover.retire': { revokeRemaining: true },
  'audit.query': { limit: 10 },
  'audit.verify': {},
  'audit.export': { format: 'csv' },
  'gateway.start': {},
  'gateway.stop': {},
  'gateway.configure': GW,
  'settings.autoStart': { enabled: true },
  'connections.list': {},
  'connections.kill': { serial: SERIAL },
};

/** Per call: invalid inputs and the field the one-line message must name. */
const INVALID: Record<CallName, ReadonlyArray<readonly [input: unknown, field: string]>> = {
  'status.get': [[{ x: 1 }, '"x"']],
  'ca.init': [
    [{ ...(VALID['ca.init'] as object), algorithm: 'dsa' }, 'algorithm'],
    [{ ...(VALID['ca.init'] as object), hosts: ['bad host!'] }, 'hosts.0'],
    [{ ...(VALID['ca.init'] as object), hosts: [] }, 'hosts'],
    [{ ...(VALID['ca.init'] as object), serverDays: 0 }, 'serverDays'],
    [{ ...(VALID['ca.init'] as object), passphrase: undefined }, 'passphrase'],
    [{ ...(VALID['ca.init'] as object), caName: '  ' }, 'caName'],
  ],
  'vault.unlock': [
    [{ passphrase: '' }, 'passphrase'],
    [{}, 'passphrase'],
  ],
  'vault.lock': [[{ now: true }, '"now"']],
  'clients.list': [[{ all: true }, '"all"']],
  'clients.chooseExportDir': [[{ dir: '/etc' }, '"dir"']],
  'clients.issue': [
    [{ name: '../etc/passwd', duration: '24h', outDir: '/tmp' }, 'name'],
    [{ name: 'CN=x,O=y', duration: '24h', outDir: '/tmp' }, 'name'],
    [{ name: 'alice', duration: '91d', outDir: '/tmp' }, 'duration'],
    [{ name: 'alice', duration: 'forever', outDir: '/tmp' }, 'duration'],
    [{ name: 'alice', duration: '24h', outDir: '' }, 'outDir'],
    [{ name: 'alice', duration: '24h', outDir: '/tmp', p12Password: 'ab' }, 'p12Password'],
    [{ name: 'alice', duration: '24h', outDir: '/tmp', csrPem: 'hello' }, 'csrPem'],
  ],
  'clients.get': [[{ serial: 'not-hex' }, 'serial']],
  'clients.renew': [
    [{ serial: SERIAL, outDir: '' }, 'outDir'],
    [{ serial: 'zz', outDir: '/tmp/out' }, 'serial'],
  ],
  'clients.revoke': [
    [{ serial: 'zz:zz', reason: 'keyCompromise' }, 'serial'],
    [{ serial: SERIAL, reason: 'boredom' }, 'reason'],
  ],
  'server.rotate': [[{ days: 0 }, 'days']],
  'ca.rollover.status': [[{ x: 1 }, 'x']],
  'ca.rollover.start': [[{ x: 1 }, 'x']],
  'ca.rollover.retire': [[{ revokeRemaining: 'yes' }, 'revokeRemaining']],
  'audit.query': [[{ limit: -1 }, 'limit']],
  'audit.verify': [[{ deep: true }, '"deep"']],
  'audit.export': [[{ format: 'xml' }, 'format']],
  'gateway.start': [[{ port: 1 }, '"port"']],
  'gateway.stop': [[{ force: true }, '"force"']],
  'gateway.configure': [
    [{ ...GW, listen: 'nowhere' }, 'listen'],
    [{ ...GW, upstream: 'ftp://x' }, 'upstream'],
    [{ ...GW, maxConnections: 0 }, 'maxConnections'],
  ],
  'settings.autoStart': [[{ enabled: 'yes' }, 'enabled']],
  'connections.list': [[{ limit: 1 }, '"limit"']],
  'connections.kill': [[{ serial: 'not-hex' }, 'input']],
};

/** Inputs no call accepts (every schema is a strict object). */
const GARBAGE: readonly unknown[] = [null, 'x', 42, [], { __unexpected: 1 }, { constructor: 'x' }];

describe('channels.ts mirrors the contract', () => {
  it('lists exactly the calls and events', () => {
    expect([...CALL_NAME_LIST].sort()).toEqual([...CALL_NAMES].sort());
    expect([...EVENT_NAME_LIST].sort()).toEqual([...EVENT_NAMES].sort());
  });
});

describe('createIpcDispatcher', () => {
  it.each(CALL_NAMES.map((c) => [c]))('%s: a valid input reaches the handler, parsed', async (call) => {
    const { dispatcher, handler } = setup();
    const res = await dispatcher.dispatch(`mtls:${call}`, goodSender, VALID[call]);
    expect(res.ok).toBe(true);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(handler.mock.calls[0]?.[0]).toBe(call);
  });

  it('hands the handler the parsed input (durations in ms, serials normalized)', async () => {
    const { dispatcher, handler } = setup();
    await dispatcher.dispatch('mtls:clients.issue', goodSender, {
      name: 'a',
      duration: '1h30m',
      outDir: '/o',
    });
    expect(handler.mock.calls[0]?.[1]).toEqual({ name: 'a', duration: 5_400_000, outDir: '/o' });
    await dispatcher.dispatch('mtls:clients.revoke', goodSender, { serial: '0A:1B', reason: 'superseded' });
    expect(handler.mock.calls[1]?.[1]).toEqual({ serial: '0a1b', reason: 'superseded' });
  });

  it.each([
    'mtls:nope',
    'clients.list',
    'mtls:',
    '',
    'mtls:__proto__',
    'mtls:constructor',
    'mtls:toString',
    'mtls:event:status.changed',
    'MTLS:status.get',
    'mtls:status.get ',
  ])('refuses unknown channel %j with FORBIDDEN', async (channel) => {
    const { dispatcher, handler } = setup();
    const res = await dispatcher.dispatch(channel, goodSender, {});
    expect(res).toEqual({
      ok: false,
      error: { code: 'FORBIDDEN', message: expect.stringContaining('unknown channel') },
    });
    expect(handler).not.toHaveBeenCalled();
  });

  const badSenders: ReadonlyArray<readonly [string, IpcSender]> = [
    ['another webContents', { url: APP_URL, webContentsId: WC_ID + 1, isMainFrame: true }],
    ['an iframe', { url: APP_URL, webContentsId: WC_ID, isMainFrame: false }],
    ['a navigated-away page', { url: 'https://evil.example/', webContentsId: WC_ID, isMainFrame: true }],
    ['another local file', { url: 'file:///tmp/evil.html', webContentsId: WC_ID, isMainFrame: true }],
    ['a destroyed frame', null],
    ['a bare id', WC_ID],
    ['a frame without ids', { url: APP_URL }],
    ['a garbage url', { url: 'not a url', webContentsId: WC_ID, isMainFrame: true }],
  ];
  describe.each(CALL_NAMES.map((c) => [c]))('%s', (call) => {
    it.each(badSenders)('refuses %s with FORBIDDEN', async (_label, sender) => {
      const { dispatcher, handler } = setup();
      const res = await dispatcher.dispatch(`mtls:${call}`, sender, VALID[call]);
      expect(res).toEqual({
        ok: false,
        error: { code: 'FORBIDDEN', message: 'sender is not the console window' },
      });
      expect(handler).not.toHaveBeenCalled();
    });

    it('refuses garbage input with INVALID_INPUT', async () => {
      const { dispatcher, handler } = setup();
      for (const input of [undefined, ...GARBAGE]) {
        const res = await dispatcher.dispatch(`mtls:${call}`, goodSender, input);
        expect(res.ok).toBe(false);
        if (res.ok) continue;
        expect(res.error.code).toBe('INVALID_INPUT');
        expect(res.error.message).toMatch(new RegExp(`^${call.replace('.', '\\.')}: `));
        expect(res.error.message).not.toMatch(/[\r\n]/);
      }
      expect(handler).not.toHaveBeenCalled();
    });

    it.each(INVALID[call].map(([input, field]) => [field, input] as const))(
      'refuses an invalid %s with a one-line INVALID_INPUT naming it',
      async (field, input) => {
        const { dispatcher, handler } = setup();
        const res = await dispatcher.dispatch(`mtls:${call}`, goodSender, input);
        expect(res.ok).toBe(false);
        if (res.ok) return;
        expect(res.error.code).toBe('INVALID_INPUT');
        expect(res.error.message).toContain(`${field}`);
        expect(res.error.message).not.toMatch(/[\r\n]/);
        expect(handler).not.toHaveBeenCalled();
      },
    );
  });

  it('accepts the dev server origin when that is the app URL', async () => {
    const dev = createSenderPolicy({ webContentsId: () => 1, appUrl: 'http://localhost:5173/' });
    expect(dev({ url: 'http://localhost:5173/#/clients', webContentsId: 1, isMainFrame: true })).toBe(true);
    expect(dev({ url: 'http://localhost:5174/', webContentsId: 1, isMainFrame: true })).toBe(false);
    // No window yet: nobody is allowed.
    const none = createSenderPolicy({ webContentsId: () => undefined, appUrl: APP_URL });
    expect(none(goodSender)).toBe(false);
  });

  it('treats a throwing sender check as a refusal', async () => {
    const handler = vi.fn();
    const d = createIpcDispatcher({
      handle: handler as unknown as CallHandler,
      isAllowedSender: () => {
        throw new Error('boom');
      },
    });
    const res = await d.dispatch('mtls:status.get', goodSender, {});
    expect(res.ok).toBe(false);
    expect(handler).not.toHaveBeenCalled();
  });

  it.each(ERROR_CODES.map((c) => [c]))(
    'maps a thrown ConsoleError %s to its code and message',
    async (code) => {
      const { dispatcher } = setup(() => {
        throw new ConsoleError(code, `went wrong: ${code}\n  with detail`);
      });
      const res = await dispatcher.dispatch('mtls:status.get', goodSender, {});
      expect(res).toEqual({ ok: false, error: { code, message: `went wrong: ${code} with detail` } });
    },
  );

  it('accepts a ConsoleError-shaped error from a second module copy', async () => {
    const { dispatcher } = setup(() => {
      const e = Object.assign(new Error('no CA yet'), { name: 'ConsoleError', code: 'NOT_INITIALIZED' });
      throw e;
    });
    expect(await dispatcher.dispatch('mtls:status.get', goodSender, {})).toEqual({
      ok: false,
      error: { code: 'NOT_INITIALIZED', message: 'no CA yet' },
    });
  });

  it('maps anything else to INTERNAL with a generic message: no stack, no key material', async () => {
    const secret =
      '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
    const thrown: unknown[] = [
      new TypeError(`cannot read ${secret}`),
      secret,
      { code: 'NOT_FOUND', message: secret },
      undefined,
    ];
    for (const t of thrown) {
      const { dispatcher, onInternalError } = setup(() => {
        throw t;
      });
      const res = await dispatcher.dispatch('mtls:clients.list', goodSender, {});
      expect(res).toEqual({ ok: false, error: { code: 'INTERNAL', message: INTERNAL_MESSAGE } });
      expect(JSON.stringify(res)).not.toMatch(/PRIVATE KEY|at .*\.ts:\d+/);
      expect(onInternalError).toHaveBeenCalledWith('clients.list', t);
    }
  });

  it('caps long error messages', async () => {
    const { dispatcher } = setup(() => {
      throw new ConsoleError('IO', 'x'.repeat(5000));
    });
    const res = await dispatcher.dispatch('mtls:status.get', goodSender, {});
    expect(res.ok ? 0 : res.error.message.length).toBeLessThanOrEqual(300);
  });
});

describe('createEventGate', () => {
  function gate() {
    const sent: Array<[EventName, unknown]> = [];
    const g = createEventGate(<E extends EventName>(e: E, p: EventPayloads[E]) => {
      sent.push([e, p]);
    });
    return { g, sent };
  }
  const status = (n: number) => ({ initialized: n > 0 }) as unknown as EventPayloads['status.changed'];

  it('holds events until the renderer subscribes, then flushes in order', () => {
    const { g, sent } = gate();
    g.emit('audit.appended', [{ seq: 1 }] as unknown as EventPayloads['audit.appended']);
    g.emit('audit.appended', [{ seq: 2 }] as unknown as EventPayloads['audit.appended']);
    g.emit('status.changed', status(0));
    g.emit('status.changed', status(1));
    expect(sent).toEqual([]);
    g.ready('audit.appended');
    expect(sent).toEqual([
      ['audit.appended', [{ seq: 1 }]],
      ['audit.appended', [{ seq: 2 }]],
    ]);
    g.ready('status.changed');
    // Snapshots: only the newest is held.
    expect(sent.at(-1)).toEqual(['status.changed', status(1)]);
    expect(sent).toHaveLength(3);
    g.emit('status.changed', status(2));
    expect(sent).toHaveLength(4);
  });

  it('ignores unknown names and holds again after a reload', () => {
    const { g, sent } = gate();
    g.ready('__proto__');
    g.ready('connections.changed');
    g.reset();
    g.emit('connections.changed', []);
    expect(sent).toEqual([]);
    g.ready('connections.changed');
    expect(sent).toEqual([['connections.changed', []]]);
  });
});
