import { z } from 'zod';
import {
  DEFAULT_RENEW_MAX_MS,
  MAX_CSR_PEM_CHARS,
  csrPemSchema,
  issueInputSchema,
  renewMaxSchema,
  type CallInput,
} from '../../../../shared/contract';
import { groupNameSchema } from '../../../../shared/policy';
import { durationSchema, formatDuration, parseDuration } from '../../../../shared/validation';
import { splitList } from '../settings/settingsSchema';

/** TTL presets offered as one-click choices; any other duration can be typed (e.g. 12h, 1d12h). */
export const TTL_PRESETS = ['1h', '24h', '7d', '30d', '90d'] as const;

/** The maximum renewal lifetime the form starts with: the seed's 90-day rotation. */
export const RENEW_MAX_DEFAULT = formatDuration(DEFAULT_RENEW_MAX_MS);

/** Where the key comes from: made here and shipped, or kept by its owner who sent a CSR. */
export type KeySource = 'generate' | 'csr';

/** The first message of a zod schema for a value, or null when it passes. */
function firstIssue(schema: z.ZodType, value: unknown): string | null {
  const r = schema.safeParse(value);
  return r.success ? null : (r.error.issues[0]?.message ?? 'invalid value');
}

/**
 * The issue form: `clients.issue`'s shared field schemas, plus what only a form has (the .p12
 * password confirmation, the key source). Messages are written for people.
 */
export const issueFormSchema = z
  .object({
    name: z.string().superRefine((s, ctx) => {
      if (s.trim() === '') {
        ctx.addIssue({ code: 'custom', message: 'Enter a name, e.g. alice@operators.' });
        return;
      }
      if (!issueInputSchema.shape.name.safeParse(s).success) {
        ctx.addIssue({
          code: 'custom',
          message: 'Use 1–64 letters, digits and . _ @ - (not "." or "..").',
        });
      }
    }),
    ttl: z.string().superRefine((s, ctx) => {
      const m = firstIssue(durationSchema, s.trim());
      if (m) ctx.addIssue({ code: 'custom', message: m });
    }),
    keySource: z.enum(['generate', 'csr']),
    /** The CSR as PEM text (read from a file or pasted). */
    csrPem: z.string(),
    p12Password: z.string(),
    p12Confirm: z.string(),
    outDir: z.string().min(1, 'Choose the folder to write the files to.'),
    /** Replace files in the folder that are not this name's bundle (after main said they exist). */
    force: z.boolean(),
    /** Groups (OUs) for access rules, comma-separated. */
    groups: z.string().superRefine((text, ctx) => {
      for (const g of splitList(text)) {
        if (!groupNameSchema.safeParse(g).success) {
          ctx.addIssue({
            code: 'custom',
            message: `"${g.slice(0, 40)}" is not a group name (letters, digits and . _ @ -).`,
          });
          return;
        }
      }
    }),
    renewable: z.boolean(),
    /** Maximum total lifetime of the renewal chain, e.g. 90d. */
    renewMax: z.string(),
    /** A new certificate for a name that exists (set by the dialog when the name is taken). */
    reissue: z.boolean(),
    revokePrevious: z.boolean(),
  })
  .superRefine((v, ctx) => {
    if (v.keySource === 'csr') {
      if (v.csrPem.trim() === '') {
        ctx.addIssue({ code: 'custom', path: ['csrPem'], message: 'Choose a CSR file or paste the PEM.' });
      } else {
        const m = firstIssue(csrPemSchema, v.csrPem);
        if (m) ctx.addIssue({ code: 'custom', path: ['csrPem'], message: `${m}.` });
      }
    } else if (v.p12Password !== '') {
      if (!issueInputSchema.shape.p12Password.safeParse(v.p12Password).success) {
        ctx.addIssue({ code: 'custom', path: ['p12Password'], message: 'Use at least 4 characters.' });
      } else if (v.p12Password !== v.p12Confirm) {
        ctx.addIssue({ code: 'custom', path: ['p12Confirm'], message: 'The two passwords differ.' });
      }
    }
    if (v.renewable) {
      const max = renewMaxSchema.safeParse(v.renewMax.trim());
      if (!max.success) {
        ctx.addIssue({
          code: 'custom',
          path: ['renewMax'],
          message: max.error.issues[0]?.message ?? 'Use a duration such as 90d.',
        });
        return;
      }
      const ttl = parseDuration(v.ttl);
      if (ttl !== null && max.data < ttl) {
        ctx.addIssue({
          code: 'custom',
          path: ['renewMax'],
          message: `At least the certificate's own lifetime (${formatDuration(ttl)}).`,
        });
      }
    }
  });

export type IssueFormValues = z.input<typeof issueFormSchema>;

export const ISSUE_DEFAULTS: IssueFormValues = {
  name: '',
  ttl: '24h',
  keySource: 'generate',
  csrPem: '',
  p12Password: '',
  p12Confirm: '',
  outDir: '',
  force: false,
  groups: '',
  renewable: true,
  renewMax: RENEW_MAX_DEFAULT,
  reissue: false,
  revokePrevious: false,
};

/** The call the form makes; only what differs from main's defaults is sent. */
export function toIssueInput(v: IssueFormValues): CallInput<'clients.issue'> {
  const csr = v.keySource === 'csr';
  const renewMax = v.renewMax.trim();
  return {
    name: v.name,
    duration: v.ttl.trim(),
    outDir: v.outDir,
    ...(!csr && v.p12Password !== '' ? { p12Password: v.p12Password } : {}),
    ...(csr ? { csrPem: v.csrPem.trim() } : {}),
    ...(v.force ? { force: true } : {}),
    ...(splitList(v.groups).length > 0 ? { groups: splitList(v.groups) } : {}),
    ...(!v.renewable
      ? { renewable: false }
      : parseDuration(renewMax) !== DEFAULT_RENEW_MAX_MS
        ? { renewMax }
        : {}),
    ...(v.reissue ? { reissue: true } : {}),
    ...(v.reissue && v.revokePrevious ? { revokePrevious: true } : {}),
  };
}

/** Why a chosen CSR file cannot be used before it is even read (size, type), or null. */
export function csrFileProblem(file: { readonly name: string; readonly size: number }): string | null {
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > MAX_CSR_PEM_CHARS) return `${file.name} is too large to be a certificate request.`;
  return null;
}
