import { z } from 'zod';
import { issueInputSchema, type CallInput } from '../../../../shared/contract';
import { groupNameSchema } from '../../../../shared/policy';
import { splitList } from '../settings/settingsSchema';
import { durationSchema } from '../../../../shared/validation';

/** TTL presets offered as one-click choices; any other duration can be typed (e.g. 12h, 1d12h). */
export const TTL_PRESETS = ['1h', '24h', '7d', '30d', '90d'] as const;

/** The issue form: `clients.issue`'s shared field schemas, plus the .p12 password confirmation. */
export const issueFormSchema = z
  .object({
    name: issueInputSchema.shape.name,
    ttl: z.string().superRefine((s, ctx) => {
      const r = durationSchema.safeParse(s);
      if (!r.success)
        ctx.addIssue({ code: 'custom', message: r.error.issues[0]?.message ?? 'invalid duration' });
    }),
    p12Password: z.string(),
    p12Confirm: z.string(),
    outDir: z.string().min(1, 'choose the folder to write the files to'),
    force: z.boolean(),
    /** Groups (OUs) for access rules, comma-separated. */
    groups: z.string().superRefine((text, ctx) => {
      for (const g of splitList(text)) {
        if (!groupNameSchema.safeParse(g).success) {
          ctx.addIssue({
            code: 'custom',
            message: `"${g.slice(0, 40)}" is not a group name (letters, digits and . _ @ -)`,
          });
          return;
        }
      }
    }),
  })
  .superRefine((v, ctx) => {
    if (v.p12Password === '') return;
    const r = issueInputSchema.shape.p12Password.safeParse(v.p12Password);
    if (!r.success) {
      ctx.addIssue({ code: 'custom', path: ['p12Password'], message: 'at least 4 characters' });
    } else if (v.p12Password !== v.p12Confirm) {
      ctx.addIssue({ code: 'custom', path: ['p12Confirm'], message: 'the two passwords differ' });
    }
  });

export type IssueFormValues = z.input<typeof issueFormSchema>;

export const ISSUE_DEFAULTS: IssueFormValues = {
  name: '',
  ttl: '24h',
  p12Password: '',
  p12Confirm: '',
  outDir: '',
  force: false,
  groups: '',
};

export function toIssueInput(v: IssueFormValues): CallInput<'clients.issue'> {
  return {
    name: v.name,
    duration: v.ttl.trim(),
    outDir: v.outDir,
    ...(v.p12Password !== '' ? { p12Password: v.p12Password } : {}),
    ...(v.force ? { force: true } : {}),
    ...(splitList(v.groups).length > 0 ? { groups: splitList(v.groups) } : {}),
  };
}
