import { describe, expect, it } from 'vitest';
import { parentToGatewaySchema } from './protocol';
import { auditPath, clientResponseHeaders, upstreamRequestHeaders, xfccValue } from './proxy';
import { canonicalSerial, RevocationSet } from './verify';
import { sanitizedEnv } from './launcher';

const id = {
  cn: 'a"b\\c',
  serial: '0a1b',
  issuer: 'CA',
  hash: 'ab'.repeat(32),
  notAfter: 0,
  notBefore: 0,
  groups: [],
};

describe('proxy headers', () => {
  it('drops hop-by-hop, Connection-named, Proxy-* and client identity headers (any case)', () => {
    const out = upstreamRequestHeaders(
      {
        host: 'gw:9443',
        connection: 'keep-alive, X-Custom',
        'x-custom': '1',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'x',
        'x-forwarded-client-cert': 'spoof',
        forwarded: 'for=1.2.3.4',
        'x-real-ip': '1.2.3.4',
        accept: 'application/json',
      },
      { identity: id, remoteAddress: '10.0.0.9', upstreamHost: '127.0.0.1:18970', upgrade: false },
    );
    expect(out).toEqual({
      accept: 'application/json',
      host: '127.0.0.1:18970',
      'x-forwarded-host': 'gw:9443',
      'x-forwarded-for': '10.0.0.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-client-cert': `Hash=${'ab'.repeat(32)};Subject="CN=a\\"b\\\\c"`,
      'x-client-cert-serial': '0a1b',
    });
  });

  it('keeps Upgrade only when upgrading', () => {
    const h = { host: 'x', connection: 'Upgrade', upgrade: 'websocket' };
    const ctx = { identity: id, remoteAddress: '1', upstreamHost: 'u', upgrade: true };
    expect(upstreamRequestHeaders(h, ctx)).toMatchObject({ connection: 'upgrade', upgrade: 'websocket' });
    expect(upstreamRequestHeaders(h, { ...ctx, upgrade: false })['upgrade']).toBeUndefined();
  });

  it('cleans response headers and audit paths', () => {
    expect(
      clientResponseHeaders({ connection: 'x-a', 'x-a': '1', 'transfer-encoding': 'chunked', 'x-b': '2' }),
    ).toEqual({
      'x-b': '2',
    });
    expect(auditPath('/a/b?token=secret')).toBe('/a/b');
    expect(xfccValue({ ...id, cn: 'alice' })).toBe(`Hash=${'ab'.repeat(32)};Subject="CN=alice"`);
  });
});

describe('revocation set', () => {
  it('compares serials as integers and reports additions', () => {
    expect(canonicalSerial('00:0A:1b')).toBe('a1b');
    const r = new RevocationSet();
    expect(r.replace(['0a1b', 'ff'])).toEqual(['a1b', 'ff']);
    expect(r.has('A1B')).toBe(true);
    expect(r.replace(['ff', '10'])).toEqual(['10']);
    expect(r.has('0a1b')).toBe(false);
  });
});

describe('protocol', () => {
  it('rejects malformed parent messages', () => {
    expect(parentToGatewaySchema.safeParse({ type: 'revocations', serials: ['AB:CD'] }).success).toBe(false);
    expect(parentToGatewaySchema.safeParse({ type: 'kill', ref: 1 }).success).toBe(false);
    expect(parentToGatewaySchema.safeParse({ type: 'kill', ref: 1, id: 'x', serial: 'ab' }).success).toBe(
      false,
    );
    expect(parentToGatewaySchema.safeParse({ type: 'tls' }).success).toBe(false);
    expect(parentToGatewaySchema.safeParse({ type: 'stop', graceMs: 100 }).success).toBe(true);
  });

  it('strips env vars that would inject code into the child', () => {
    const env = sanitizedEnv({ NODE_OPTIONS: '--require evil', ELECTRON_RUN_AS_NODE: '1', PATH: '/bin' });
    expect(env).toEqual({ PATH: '/bin' });
  });
});
