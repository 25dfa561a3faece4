import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AuditWireRow } from './protocol';

/** Every refused row carries this in its details, so a test can look for it in the database. */
export const BAD_MARK = 'must-not-be-stored';

const T = '2030-01-02T03:04:05.678Z';
const ok = (over: Partial<Record<number, unknown>> = {}): unknown[] => {
  const row: unknown[] = [T, 'gateway.request', 'mallory', 'ab12', { mark: BAD_MARK }];
  for (const [i, v] of Object.entries(over)) row[Number(i)] = v;
  return row;
};

/** Audit messages a broken or hostile gateway might send; each must be refused as a whole. */
export const BAD_AUDIT_MESSAGES: readonly unknown[] = [
  { type: 'audit' },
  { type: 'audit', rows: 'nope' },
  { type: 'audit', entries: [{ type: 'gateway.request', actor: { kind: 'system' }, details: {} }] },
  { type: 'audit', rows: [ok({ 0: 'yesterday' })] },
  { type: 'audit', rows: [ok({ 0: '2030-13-02T03:04:05.678Z' })] },
  { type: 'audit', rows: [ok({ 0: 1_900_000_000_000 })] },
  { type: 'audit', rows: [ok({ 1: 'audit.checkpoint' })] },
  { type: 'audit', rows: [ok({ 1: 'client.revoked' })] },
  { type: 'audit', rows: [ok({ 1: 'gateway.' + 'x'.repeat(100) })] },
  { type: 'audit', rows: [ok({ 3: null })] },
  { type: 'audit', rows: [ok({ 2: null })] },
  { type: 'audit', rows: [ok({ 3: 'not-hex' })] },
  { type: 'audit', rows: [ok({ 2: { kind: 'operator', name: 'root' } })] },
  { type: 'audit', rows: [ok({ 4: null })] },
  { type: 'audit', rows: [ok({ 4: [BAD_MARK] })] },
  { type: 'audit', rows: [ok({ 4: `{"mark":"${BAD_MARK}"}` })] },
  { type: 'audit', rows: [[T, 'gateway.request', null, null]] },
  { type: 'audit', rows: [{ time: T, type: 'gateway.request', details: { mark: BAD_MARK } }] },
  // One bad row spoils its batch: the good row before it is not stored either.
  { type: 'audit', rows: [ok(), ok({ 3: 'zz' })] },
];

/** What the hostile child sends after them: these must be stored, exactly. */
export const GOOD_ROWS: readonly AuditWireRow[] = [
  [
    T,
    'gateway.request',
    'alice',
    'AB12CD',
    {
      id: 'c1',
      method: 'GET',
      path: '/ok?q="x"',
      status: 200,
      bytesIn: 0,
      bytesOut: 5,
      ms: 1,
      outcome: 'ok',
    },
  ],
  [T, 'gateway.connection.refused', null, null, { reason: 'bad_handshake', nested: { a: [1, 'x', null] } }],
];

export const DONE_LINE = 'hostile child done';

/**
 * Writes a stand-in gateway (CommonJS, plain Node) into `dir`: it answers `start` with `ready`, then
 * sends every bad audit message, one good batch and a log line, and exits on `stop`.
 */
export function writeHostileChild(dir: string): string {
  const file = path.join(dir, 'hostile-gateway.cjs');
  writeFileSync(
    file,
    `const bad = ${JSON.stringify(BAD_AUDIT_MESSAGES)};
const good = ${JSON.stringify(GOOD_ROWS)};
process.on('message', (m) => {
  if (m.type === 'start') {
    process.send({ type: 'ready', host: '127.0.0.1', port: 4433 });
    for (const msg of bad) process.send(msg);
    process.send({ type: 'audit', rows: good });
    process.send({ type: 'log', level: 'info', line: ${JSON.stringify(DONE_LINE)} });
  }
  if (m.type === 'stop') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
`,
  );
  return file;
}
