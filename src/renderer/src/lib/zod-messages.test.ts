import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { caInitInputSchema } from '../../../shared/contract';
import { installZodMessages } from './zod-messages';

function messages(schema: z.ZodType, input: unknown): string[] {
  const r = schema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => i.message);
}

describe('renderer zod messages', () => {
  beforeAll(() => installZodMessages());
  afterAll(() => z.config({ customError: undefined }));

  it('says what to enter instead of zod’s defaults', () => {
    const form = z.object({
      name: z.string().trim().min(1),
      passphrase: z.string().min(12),
      days: z.number().int().min(1).max(3650),
      hosts: z.array(z.string()).min(1),
      mode: z.enum(['a', 'b']),
    });
    expect(messages(form, { name: '  ', passphrase: 'short', days: NaN, hosts: [], mode: 'c' })).toEqual([
      'Enter a name',
      'Use at least 12 characters',
      'Enter a number',
      'Add a host',
      'Choose one of: a, b',
    ]);
    expect(messages(form.shape.days, 0)).toEqual(['Enter 1 or more']);
    expect(messages(form.shape.days, 5000)).toEqual(['Enter 3,650 or less']);
    expect(messages(form.shape.days, 1.5)).not.toContain(expect.stringMatching(/expected|received/));
  });

  it('keeps the messages schemas spell out, and never says "received NaN"', () => {
    const all = messages(caInitInputSchema, {
      algorithm: 'ecdsa-p256',
      caName: '',
      hosts: ['bad host'],
      serverDays: NaN,
      vault: 'passphrase',
      passphrase: 'x',
    });
    expect(all).toContain('Enter a CA name');
    expect(all).toContain('not a valid DNS name or IP address');
    expect(all).toContain('the passphrase must be at least 12 characters');
    expect(all).toContain('Enter a number');
    for (const m of all) expect(m).not.toMatch(/received|expected|Too small|Invalid input/);
  });
});
