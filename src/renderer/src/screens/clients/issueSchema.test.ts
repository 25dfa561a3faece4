import { describe, expect, it } from 'vitest';
import { ISSUE_DEFAULTS, issueFormSchema, toIssueInput } from './issueSchema';

const ok = { ...ISSUE_DEFAULTS, name: 'alice@ops', outDir: '/tmp/out' };

describe('issueFormSchema', () => {
  it('accepts a name, a preset TTL and a folder, with no .p12', () => {
    expect(issueFormSchema.safeParse(ok).success).toBe(true);
    expect(toIssueInput(ok)).toEqual({ name: 'alice@ops', duration: '24h', outDir: '/tmp/out' });
  });
  it('uses the shared name rules', () => {
    expect(issueFormSchema.safeParse({ ...ok, name: 'CN=x,O=y' }).success).toBe(false);
    expect(issueFormSchema.safeParse({ ...ok, name: '..' }).success).toBe(false);
  });
  it('refuses malformed and over-90-day TTLs', () => {
    expect(issueFormSchema.safeParse({ ...ok, ttl: '1h30m' }).success).toBe(true);
    expect(issueFormSchema.safeParse({ ...ok, ttl: 'soon' }).success).toBe(false);
    expect(issueFormSchema.safeParse({ ...ok, ttl: '91d' }).success).toBe(false);
  });
  it('needs a confirmed .p12 password of at least 4 characters when one is given', () => {
    expect(issueFormSchema.safeParse({ ...ok, p12Password: 'abc', p12Confirm: 'abc' }).success).toBe(false);
    expect(issueFormSchema.safeParse({ ...ok, p12Password: 'abcd', p12Confirm: 'abce' }).success).toBe(false);
    const good = { ...ok, p12Password: 'abcd', p12Confirm: 'abcd' };
    expect(issueFormSchema.safeParse(good).success).toBe(true);
    expect(toIssueInput(good).p12Password).toBe('abcd');
  });
  it('needs an export folder', () => {
    expect(issueFormSchema.safeParse({ ...ok, outDir: '' }).success).toBe(false);
  });
});
