import { describe, expect, it } from 'vitest';
import {
  ISSUE_DEFAULTS,
  csrFileProblem,
  issueFormSchema,
  toIssueInput,
  type IssueFormValues,
} from './issueSchema';

const ok: IssueFormValues = { ...ISSUE_DEFAULTS, name: 'alice@ops', outDir: '/tmp/out' };
const CSR = '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n';

/** The message shown under a field, or undefined when it is valid. */
function messageFor(v: IssueFormValues, field: keyof IssueFormValues): string | undefined {
  const r = issueFormSchema.safeParse(v);
  return r.success ? undefined : r.error.issues.find((i) => i.path[0] === field)?.message;
}

describe('issueFormSchema', () => {
  it('accepts a name, a preset TTL and a folder, with no .p12, sending only what differs from the defaults', () => {
    expect(issueFormSchema.safeParse(ok).success).toBe(true);
    expect(toIssueInput(ok)).toEqual({ name: 'alice@ops', duration: '24h', outDir: '/tmp/out' });
  });
  it('uses the shared name rules, with a message for people', () => {
    expect(messageFor({ ...ok, name: 'CN=x,O=y' }, 'name')).toMatch(/letters, digits/);
    expect(messageFor({ ...ok, name: '..' }, 'name')).toBeDefined();
    expect(messageFor({ ...ok, name: '' }, 'name')).toBe('Enter a name, e.g. alice@operators.');
  });
  it('refuses malformed and over-90-day TTLs', () => {
    expect(issueFormSchema.safeParse({ ...ok, ttl: '1h30m' }).success).toBe(true);
    expect(messageFor({ ...ok, ttl: 'soon' }, 'ttl')).toMatch(/invalid duration/);
    expect(messageFor({ ...ok, ttl: '91d' }, 'ttl')).toMatch(/90 days/);
  });
  it('needs a confirmed .p12 password of at least 4 characters when one is given', () => {
    expect(messageFor({ ...ok, p12Password: 'abc', p12Confirm: 'abc' }, 'p12Password')).toBe(
      'Use at least 4 characters.',
    );
    expect(messageFor({ ...ok, p12Password: 'abcd', p12Confirm: 'abce' }, 'p12Confirm')).toBe(
      'The two passwords differ.',
    );
    const good = { ...ok, p12Password: 'abcd', p12Confirm: 'abcd' };
    expect(issueFormSchema.safeParse(good).success).toBe(true);
    expect(toIssueInput(good).p12Password).toBe('abcd');
  });
  it('needs an export folder', () => {
    expect(messageFor({ ...ok, outDir: '' }, 'outDir')).toBe('Choose the folder to write the files to.');
  });
});

describe('CSR', () => {
  const csr: IssueFormValues = { ...ok, keySource: 'csr', csrPem: CSR };
  it('sends the PEM and never a .p12 password', () => {
    const input = toIssueInput({ ...csr, p12Password: 'abcd', p12Confirm: 'abcd' });
    expect(input.csrPem).toBe(CSR.trim());
    expect(input.p12Password).toBeUndefined();
  });
  it('needs a CSR PEM, not a certificate or nothing', () => {
    expect(messageFor({ ...csr, csrPem: '' }, 'csrPem')).toBe('Choose a CSR file or paste the PEM.');
    expect(messageFor({ ...csr, csrPem: '-----BEGIN CERTIFICATE-----\nx\n' }, 'csrPem')).toMatch(
      /not a PEM certificate request/,
    );
    expect(issueFormSchema.safeParse(csr).success).toBe(true);
  });
  it('refuses empty and oversized files before reading them', () => {
    expect(csrFileProblem({ name: 'a.csr', size: 0 })).toBe('a.csr is empty.');
    expect(csrFileProblem({ name: 'big.pem', size: 10_000_000 })).toMatch(/too large/);
    expect(csrFileProblem({ name: 'a.csr', size: 900 })).toBeNull();
  });
});

describe('renewal policy and re-issue', () => {
  it('sends renewable: false, or a maximum other than the default 90 days', () => {
    expect(toIssueInput({ ...ok, renewable: false })).toMatchObject({ renewable: false });
    expect(toIssueInput({ ...ok, renewable: false }).renewMax).toBeUndefined();
    expect(toIssueInput({ ...ok, renewMax: '180d' }).renewMax).toBe('180d');
    expect(toIssueInput({ ...ok, renewMax: '90d' }).renewMax).toBeUndefined();
  });
  it('refuses a maximum shorter than the certificate, or not a duration', () => {
    expect(messageFor({ ...ok, ttl: '30d', renewMax: '7d' }, 'renewMax')).toMatch(/own lifetime \(30d\)/);
    expect(messageFor({ ...ok, renewMax: 'forever' }, 'renewMax')).toMatch(/invalid duration/);
    // Not renewable: the maximum is not asked for.
    expect(issueFormSchema.safeParse({ ...ok, renewable: false, renewMax: 'forever' }).success).toBe(true);
  });
  it('re-issues, revoking the previous certificate only when asked and only in a re-issue', () => {
    expect(toIssueInput({ ...ok, reissue: true })).toMatchObject({ reissue: true });
    expect(toIssueInput({ ...ok, reissue: true }).revokePrevious).toBeUndefined();
    expect(toIssueInput({ ...ok, reissue: true, revokePrevious: true })).toMatchObject({
      reissue: true,
      revokePrevious: true,
    });
    expect(toIssueInput({ ...ok, revokePrevious: true }).revokePrevious).toBeUndefined();
  });
});
