import { describe, expect, it } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import { DEFAULT_GATEWAY_CONFIG, type GatewayConfig } from '../../shared/model';
import { checkAuditMessage, parentToGatewaySchema } from './protocol';
import { checkParentMessage, type ParentToGateway } from './wire';

/**
 * The gateway child checks its parent's messages by hand (wire.ts, no zod in the child); the parent
 * builds them with the zod schemas of protocol.ts. Both must agree: whatever the child accepts the
 * schema accepts too, with the same value, and whatever the schema accepts as it is (nothing
 * trimmed or upper-cased) the child accepts.
 */

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const config: GatewayConfig = {
  ...DEFAULT_GATEWAY_CONFIG,
  stripHeaders: ['x-internal-*', 'x-secret'],
  accessRules: [
    { id: 'agents', group: 'agents', methods: ['GET', 'POST'], paths: ['/v1/scan', '/status'] },
    { id: 'admin-1', name: 'admin-*', methods: ['*'], paths: ['/'] },
  ],
  clientCertHeader: true,
};
const credentials = [
  { name: 'X-DefenseClaw-Token', value: 'tok en', methods: ['POST'] },
  { name: 'Authorization', value: 'Bearer abc' },
];

const VALID: ParentToGateway[] = [
  {
    type: 'start',
    tls: { keyPem: PEM, certPem: PEM, caPem: PEM },
    revokedSerials: ['0a1f', 'ff'],
    config,
    options: { upstreamTimeoutMs: 500, maxHandshakeBytes: 2048, oversizePenaltyMs: 0 },
    credentials,
  },
  { type: 'start', tls: { keyPem: PEM, certPem: PEM, caPem: PEM }, revokedSerials: [], config },
  { type: 'credentials', list: credentials },
  { type: 'credentials', list: [] },
  { type: 'tls', server: { keyPem: PEM, certPem: PEM } },
  { type: 'tls', caPem: PEM },
  { type: 'tls', server: { keyPem: PEM, certPem: PEM }, caPem: PEM },
  { type: 'revocations', serials: ['1', 'abcdef0123456789'] },
  { type: 'kill', ref: 3, id: 'c1' },
  { type: 'kill', ref: 0, serial: 'ab' },
  { type: 'stop', graceMs: 0 },
  { type: 'hold', on: true, reason: 'disk full' },
  { type: 'hold', on: false },
  { type: 'config', config },
  { type: 'config', config: DEFAULT_GATEWAY_CONFIG },
  { type: 'renewed', ref: 1, ok: true, certPem: PEM, caPem: PEM },
  { type: 'renewed', ref: 2, ok: false, status: 429, error: 'at most one renewal a minute' },
];

const BAD_VALUES: unknown[] = [
  undefined,
  null,
  '',
  'x',
  'GET',
  '/v1',
  ' padded ',
  'a\r\nb',
  'x'.repeat(5000),
  -1,
  0,
  1.5,
  599,
  1e12,
  Number.NaN,
  true,
  false,
  [],
  ['x'],
  {},
];

/** Every path to a value inside `v` (object keys and array indices). */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push([...at, i], ...paths(x, [...at, i])));
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) out.push([...at, k], ...paths(x, [...at, k]));
  }
  return out;
}

function withValue(msg: unknown, at: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(msg) as Record<string | number, unknown>;
  let o = copy;
  for (const k of at.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = at[at.length - 1] as string | number;
  if (value === undefined && !Array.isArray(o)) delete o[last];
  else o[last] = value;
  return copy;
}

function agree(input: unknown): void {
  const mine = checkParentMessage(input);
  const zod = parentToGatewaySchema.safeParse(input);
  const label = JSON.stringify(input)?.slice(0, 300);
  if (typeof mine !== 'string') {
    expect(zod.success, `the child accepted what the schema refuses: ${label}`).toBe(true);
    expect(mine, label).toStrictEqual(zod.data);
  } else if (zod.success && isDeepStrictEqual(zod.data, input)) {
    expect.fail(`the child refused (${mine}) what the schema accepts as it is: ${label}`);
  }
}

describe('the gateway child checks its parent messages as the schemas do (no zod in the child)', () => {
  it('accepts every valid message, unchanged', () => {
    for (const msg of VALID) {
      expect(checkParentMessage(msg)).toStrictEqual(msg);
      expect(parentToGatewaySchema.parse(msg)).toStrictEqual(msg);
    }
  });

  it('agrees with the schemas on every field replaced by a wrong value', () => {
    let cases = 0;
    for (const msg of VALID) {
      for (const at of paths(msg)) {
        for (const bad of BAD_VALUES) {
          agree(withValue(msg, at, bad));
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(2000);
  });

  it('drops unknown fields, refuses unknown types and non-objects, with one line', () => {
    const extra = checkParentMessage({ type: 'stop', graceMs: 5, evil: 'x' });
    expect(extra).toStrictEqual({ type: 'stop', graceMs: 5 });
    for (const raw of [null, 'stop', 42, [], { type: 'nope' }, { type: 'kill', ref: 1 }]) {
      const r = checkParentMessage(raw);
      expect(typeof r).toBe('string');
      expect(r).not.toContain('\n');
      agree(raw);
    }
  });

  it('refuses header injection through credentials and rules the gateway would act on', () => {
    for (const list of [
      [{ name: 'Host', value: 'evil' }],
      [{ name: 'content_length', value: '5' }],
      [{ name: 'X-Token', value: 'a\r\nX-Forwarded-For: 1.2.3.4' }],
      [{ name: 'X Token', value: 'a' }],
    ]) {
      expect(typeof checkParentMessage({ type: 'credentials', list })).toBe('string');
      agree({ type: 'credentials', list });
    }
    const dup = { ...config, accessRules: [config.accessRules[0], config.accessRules[0]] };
    expect(typeof checkParentMessage({ type: 'config', config: dup })).toBe('string');
    agree({ type: 'config', config: dup });
  });
});

describe('the audit batch check remembers what a batch already proved (issue 12), never more', () => {
  const ISO = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
  /** The rule row by row, each field matched on its own: what checkAuditMessage must decide. */
  const reference = (rows: unknown[][]): boolean =>
    rows.every(
      ([time, type, cn, serial]) =>
        typeof time === 'string' &&
        ISO.test(time) &&
        typeof type === 'string' &&
        type.length <= 100 &&
        /^gateway(\.[a-z0-9_-]+)+$/.test(type) &&
        (cn === null
          ? serial === null
          : typeof cn === 'string' && typeof serial === 'string' && /^[0-9a-fA-F]{1,128}$/.test(serial)),
    );
  const row = (time: unknown, type: unknown, cn: unknown, serial: unknown): unknown[] => [
    time,
    type,
    cn,
    serial,
    { id: 'c1', status: 200 },
  ];
  const good = [
    row('2026-12-01T04:00:00.123Z', 'gateway.request', 'alice', '0a1f'),
    row('2026-12-01T04:00:00.124Z', 'gateway.request', 'alice', '0a1f'),
    row('2026-12-01T04:00:01.000Z', 'gateway.connection.closed', 'bob', 'ff'),
    row('2026-12-01T04:00:01.001Z', 'gateway.request', null, null),
    row('2026-12-01T04:00:01.002Z', 'gateway.request', 'alice', '0a1f'),
  ];
  const bad: unknown[][] = [
    ['2026-12-01T04:00:00.12xZ', 'gateway.request', 'alice', '0a1f'],
    ['2026-12-01T04:00:00.1234Z', 'gateway.request', 'alice', '0a1f'],
    ['2026-12-01T04:00:00.123z', 'gateway.request', 'alice', '0a1f'],
    ['2026-12-01T04:00:00.123', 'gateway.request', 'alice', '0a1f'],
    ['2026-12-01T04:00:60.123Z', 'gateway.request', 'alice', '0a1f'],
    ['\u00002026-12-01T04:00:00.123Z', 'gateway.request', 'alice', '0a1f'],
    ['2026-12-01T04:00:00.123Z', '', 'alice', '0a1f'],
    ['2026-12-01T04:00:00.123Z', 'audit.checkpoint', 'alice', '0a1f'],
    ['2026-12-01T04:00:00.123Z', 'gateway.request', 'alice', 'zz'],
    ['2026-12-01T04:00:00.123Z', 'gateway.request', 'alice', null],
    ['2026-12-01T04:00:00.123Z', 'gateway.request', null, '0a1f'],
    ['2026-12-01T04:00:00.123Z', 'gateway.request', 'alice', ''],
    [123, 'gateway.request', 'alice', '0a1f'],
  ];

  it('accepts a batch of repeated seconds, types and clients as it is', () => {
    const out = checkAuditMessage({ rows: good });
    expect(typeof out).not.toBe('string');
    expect((out as { time: string }[]).map((r) => r.time)).toEqual(good.map((r) => r[0]));
  });

  it('refuses a bad field wherever it sits behind good rows, as the row-by-row rule does', () => {
    for (const [time, type, cn, serial] of bad) {
      for (let at = 0; at <= good.length; at++) {
        const rows = [...good.slice(0, at), row(time, type, cn, serial), ...good.slice(at)];
        expect(reference(rows), JSON.stringify(rows[at])).toBe(false);
        expect(typeof checkAuditMessage({ rows }), JSON.stringify(rows[at])).toBe('string');
      }
    }
  });
});
