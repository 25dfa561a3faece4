import { describe, expect, it } from 'vitest';
import { HeaderPolicy, headerKey, requestFacts } from './request-headers';
import { isoNow } from './gateway';
import { RequestLane, type LaneStop } from './request-lane';
import { upstreamTarget } from '../../shared/request-target';

const id = {
  cn: 'alice',
  serial: '0a1b',
  issuer: 'CA',
  hash: 'ab'.repeat(32),
  notAfter: 0,
  notBefore: 0,
  groups: [],
};
const ctx = { identity: id, remoteAddress: '10.0.0.9', upstreamHost: 'u:1' };

describe('request target (RFC 3986 §5.2.4, issue 8 item 11)', () => {
  it('normalises harmless dot-segments and keeps the query untouched', () => {
    expect(upstreamTarget('/api', '/a/./b/../c?x=/../y')).toEqual({
      ok: true,
      path: '/api/a/c?x=/../y',
      clientPath: '/a/c',
    });
    expect(upstreamTarget('/api', '/a/b/..')).toMatchObject({ ok: true, path: '/api/a/', clientPath: '/a/' });
    expect(upstreamTarget('', '/a/%2e/b')).toMatchObject({ ok: true, path: '/a/b' });
    expect(upstreamTarget('', '/file.tar.gz')).toMatchObject({ ok: true, path: '/file.tar.gz' });
    expect(upstreamTarget('', '/ids/a%2Fb')).toMatchObject({ ok: true, path: '/ids/a%2Fb' });
  });

  it.each([
    '/..',
    '/../x',
    '/%2e%2e/x',
    '/.%2E/x',
    '/a/../../x',
    '/..%2fx',
    '/a%2f..%2f..%2fx',
    '/..\\x',
    '/%5c..',
    '/..;jsessionid=1/x',
    '/%252e%252e/x',
    'x',
    '*',
    'http://h/x',
    '/a#frag',
  ])('refuses %s', (t) => {
    expect(upstreamTarget('/api', t).ok).toBe(false);
  });
});

describe('identity headers (issue 8 item 5)', () => {
  it('compares names case-insensitively with _ and - alike, including configured extras', () => {
    const p = new HeaderPolicy({ stripHeaders: ['X-Tenant-User', 'X-Internal-*'] });
    for (const n of [
      'X_Client_Cert_Serial',
      'x-client-cert',
      'CLIENT_CERT',
      'client-cert-chain',
      'X-SSL-Client-Fingerprint',
      'x-forwarded-tls-client-cert-info',
      'X_Forwarded_For',
      'forwarded',
      'x-tenant_user',
      'X-Internal-Role',
      'remote_user',
    ]) {
      expect(p.isIdentityHeader(n), n).toBe(true);
    }
    for (const n of ['authorization', 'x-request-id', 'x-forward', 'client-certainly']) {
      expect(p.isIdentityHeader(n), n).toBe(false);
    }
    expect(headerKey('X_A-b')).toBe('x-a-b');
  });

  it('sets its own headers after stripping, with optional RFC 9440 Client-Cert and XFCC Cert=', () => {
    const der = Buffer.from('30820101', 'hex');
    const off = new HeaderPolicy().upstreamRequestHeaders(
      { host: 'gw', x_client_cert_serial: 'ff', 'client-cert': ':AA==:', accept: '*/*' },
      { ...ctx, certDer: () => der },
      null,
    );
    expect(Object.keys(off)).toEqual([
      'accept',
      'host',
      'x-forwarded-host',
      'x-forwarded-for',
      'x-forwarded-proto',
      'x-forwarded-client-cert',
      'x-client-cert-serial',
    ]);
    expect(off['x-client-cert-serial']).toBe('0a1b');
    const on = new HeaderPolicy({ clientCertHeader: true, xfccCert: true }).upstreamRequestHeaders(
      { 'client-cert': ':AA==:' },
      { ...ctx, certDer: () => der },
      null,
    );
    expect(on['client-cert']).toBe(`:${der.toString('base64')}:`);
    expect(on['x-forwarded-client-cert']).toBe(
      `Hash=${'ab'.repeat(32)};Cert="${encodeURIComponent(
        `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`,
      )}";Subject="CN=alice"`,
    );
  });
});

describe('head building on the hot path (names remembered per spelling, issue 12)', () => {
  /** The names a head kept, lowercased, in order. */
  const names = (head: string): string[] =>
    head
      .split('\r\n')
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => l.slice(0, l.indexOf(':')).toLowerCase());

  it('drops the same request headers as the object form, however often and however spelled', () => {
    const p = new HeaderPolicy({
      stripHeaders: ['X-Tenant-User', 'X-Internal-*'],
      credentials: [{ name: 'X-Api_Token', value: 'secret' }],
      rewriteOrigin: true,
      upstreamOrigin: 'http://127.0.0.1:1',
    });
    const raw = [
      'Host',
      'gw:443',
      'Accept',
      '*/*',
      'X_Client_Cert_Serial',
      'ff',
      'Connection',
      'keep-alive, X-Hop',
      'X-Hop',
      '1',
      'Proxy-Foo',
      'x',
      'Keep-Alive',
      '5',
      'X-Internal-Role',
      'admin',
      'x-tenant_user',
      'bob',
      'X-API-TOKEN',
      'client-sent',
      'Content-Length',
      '0',
      'Expect',
      '100-continue',
      'Origin',
      'https://gw:443',
      'X-Request-Id',
      'r1',
      'TE',
      'trailers',
    ];
    for (let round = 0; round < 3; round++) {
      const head = p.upstreamHead('GET', '/x', raw, requestFacts(raw), 'u:1', '', '');
      expect(names(head)).toEqual([
        'host',
        'accept',
        'origin',
        'x-request-id',
        'x-forwarded-host',
        'x-api_token',
      ]);
      expect(head).toContain('Origin: http://127.0.0.1:1\r\n');
      expect(head).toContain('X-Api_Token: secret\r\n');
      expect(head).not.toContain('client-sent');
    }
    // The same name without Connection naming it is relayed: the verdict is per message, not remembered.
    const plain = ['Host', 'gw', 'X-Hop', '2'];
    expect(names(p.upstreamHead('GET', '/', plain, requestFacts(plain), 'u:1', '', ''))).toEqual([
      'host',
      'x-hop',
      'x-forwarded-host',
      'x-api_token',
    ]);
  });

  it('stays right past its bound, with long names and names it cannot remember', () => {
    const p = new HeaderPolicy();
    const raw: string[] = ['Host', 'gw'];
    for (let i = 0; i < 1500; i++) raw.push(`X-Custom-${i}`, 'v');
    raw.push(`X-Forwarded-${'a'.repeat(200)}`, 'spoof', 'x'.repeat(300), 'kept', 'X-Real-IP', '6.6.6.6');
    for (let round = 0; round < 2; round++) {
      const kept = names(p.upstreamHead('GET', '/', raw, requestFacts(raw), 'u:1', '', ''));
      expect(kept).toHaveLength(1 + 1500 + 1 + 1);
      expect(kept).toContain('x'.repeat(300));
      expect(kept.some((n) => n.startsWith('x-forwarded-a'))).toBe(false);
      expect(kept).not.toContain('x-real-ip');
    }
  });

  it('relays response headers but the framing and hop-by-hop ones', () => {
    const p = new HeaderPolicy();
    for (let round = 0; round < 3; round++) {
      const lines = p.clientHeadLines([
        'Content-Type',
        'text/plain',
        'Content-Length',
        '5',
        'Connection',
        'close, X-Secret',
        'X-Secret',
        's',
        'Transfer-Encoding',
        'chunked',
        'Proxy-Authenticate',
        'Basic',
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
      ]);
      expect(lines).toBe('Content-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n');
    }
    expect(p.clientHeadLines(['X-Secret', 's'])).toBe('X-Secret: s\r\n');
  });

  it('times audit records as Date#toISOString does', () => {
    for (const t of [
      0, 999, 1000, 1_764_561_600_007, 1_764_561_600_010, 1_764_561_600_999, 1_764_561_601_000,
    ]) {
      expect(isoNow(t)).toBe(new Date(t).toISOString());
    }
    const now = Date.now();
    expect(isoNow(now)).toBe(new Date(now).toISOString());
  });
});

describe('request lane', () => {
  it('starts one item at a time and drops what is queued when stopped', () => {
    const started: number[] = [];
    const dones: Array<() => void> = [];
    const dropped: Array<[number, LaneStop]> = [];
    let idle = 0;
    const lane = new RequestLane<number>(3, {
      start: (n, done) => {
        started.push(n);
        dones.push(done);
        return { abort: () => done() };
      },
      dropped: (count, why) => dropped.push([count, why]),
      idle: () => idle++,
    });
    lane.push(1);
    lane.push(2);
    lane.push(3);
    expect(started).toEqual([1]);
    expect(lane.pending).toBe(3);
    dones[0]?.();
    expect(started).toEqual([1, 2]);
    lane.stop('client_closed');
    expect(dropped).toEqual([[1, 'client_closed']]);
    expect(started).toEqual([1, 2]);
    expect(idle).toBe(1);
    expect(lane.push(4)).toBe(false);
    expect(dropped).toEqual([
      [1, 'client_closed'],
      [1, 'client_closed'],
    ]);
  });

  it('closes on overflow and serves synchronous refusals without recursion', () => {
    let started = 0;
    const dropped: Array<[number, LaneStop]> = [];
    const lane = new RequestLane<number>(2, {
      start: (_n, done) => {
        started++;
        if (started > 1) done();
        return null;
      },
      dropped: (count, why) => dropped.push([count, why]),
      idle: () => undefined,
    });
    lane.push(0);
    lane.push(1);
    lane.push(2);
    expect(lane.push(3)).toBe(false);
    expect(lane.stoppedBy).toBe('overflow');
    expect(dropped).toEqual([[3, 'overflow']]);
  });
});
