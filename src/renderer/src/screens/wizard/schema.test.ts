import { describe, expect, it } from 'vitest';
import { addHosts, toInitInput, WIZARD_DEFAULTS, wizardSchema } from './schema';

describe('wizard hosts', () => {
  it('adds hosts separated by commas or new lines, once each', () => {
    expect(addHosts(['localhost'], 'gw.internal, 10.0.0.5\nLOCALHOST')).toEqual({
      hosts: ['localhost', 'gw.internal', '10.0.0.5'],
    });
  });

  it('refuses "bad host" as one name instead of splitting it', () => {
    expect(addHosts([], 'bad host')).toEqual({
      error: '"bad host" is not a host name (no spaces; separate hosts with commas)',
    });
    expect(addHosts([], 'ok.example, -bad-')).toEqual({
      error: '"-bad-" is not a valid DNS name or IP address',
    });
  });
});

describe('wizard upstream', () => {
  const values = {
    ...WIZARD_DEFAULTS,
    vault: 'passphrase' as const,
    passphrase: 'x'.repeat(12),
    passphraseConfirm: 'x'.repeat(12),
  };

  it('refuses a non-loopback upstream unless the operator allows it, and sends that choice', () => {
    const remote = { ...values, upstream: 'http://10.1.2.3' };
    const refused = wizardSchema.safeParse(remote);
    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['upstream', '10.1.2.3 is not a loopback address; tick "Allow non-loopback upstream" to proxy to it'],
    ]);
    const allowed = { ...remote, allowRemoteUpstream: true };
    expect(wizardSchema.safeParse(allowed).success).toBe(true);
    expect(toInitInput(allowed).gateway).toEqual({
      listen: values.listen,
      upstream: 'http://10.1.2.3',
      allowRemoteUpstream: true,
    });
    expect(toInitInput(values).gateway).not.toHaveProperty('allowRemoteUpstream');
  });
});
