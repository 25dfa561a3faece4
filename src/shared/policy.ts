import { z } from 'zod';
import { CLIENT_NAME_RE, clientNameSchema } from './validation';
import type { AccessRule } from './policy-decide';

/**
 * Per-client access policy (issue 11 §2; ghostunnel's --allow-cn/--allow-ou, Envoy's RBAC): rules
 * say which clients, by name pattern or group (the certificate's OU), may use which methods on
 * which path prefixes. No rules: every verified client may call anything (the default). Any rule:
 * what no rule allows is denied. One module for the gateway, the CLI and the app's "test" box, so
 * all three decide the same way.
 */

/** A group is an OU of the client certificate; the same alphabet as names. */
export const groupNameSchema = clientNameSchema;

/** Methods are tokens, upper case; `*` is every method. */
export const policyMethodSchema = z
  .string()
  .trim()
  .transform((m) => m.toUpperCase())
  .pipe(z.string().regex(/^(\*|[A-Z]{1,20})$/, 'a method is a word like GET or POST, or *'));

/**
 * Path prefixes are compared with the gateway's normalised path (no dot-segments, no query), on
 * segment boundaries: `/v1/scan` allows `/v1/scan` and `/v1/scan/x`, not `/v1/scanner`.
 */
export const pathPrefixSchema = z
  .string()
  .trim()
  .max(512)
  .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, 'a path prefix starts with / and has no query or spaces')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'a path prefix has no . or .. segments');

export const ruleIdSchema = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'a rule id is 1-40 lowercase letters, digits and -');

const NAME_PATTERN_RE = /^[A-Za-z0-9._@*-]{1,64}$/;

export const accessRuleSchema = z
  .object({
    id: ruleIdSchema,
    /** A client name, or a pattern where `*` stands for any run of characters (`agent-*`). */
    name: z.string().trim().regex(NAME_PATTERN_RE, 'a name pattern is a client name, * allowed').optional(),
    group: groupNameSchema.optional(),
    methods: z.array(policyMethodSchema).min(1).max(16),
    paths: z.array(pathPrefixSchema).min(1).max(32),
  })
  .strict()
  .refine((r) => r.name !== undefined || r.group !== undefined, {
    message: 'a rule names a client (pattern) or a group',
  });

// The decision is in a zod-free module the gateway child loads (issue 12: no zod there).
export { decide, type AccessRule, type PolicyDecision, type PolicySubject } from './policy-decide';

/** The schema's output is exactly the rule the decision reads: a change to one must reach the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const ruleShapeMatches: Same<z.output<typeof accessRuleSchema>, AccessRule> = true;
void ruleShapeMatches;

export const accessRulesSchema = z
  .array(accessRuleSchema)
  .max(200)
  .refine((rules) => new Set(rules.map((r) => r.id)).size === rules.length, 'rule ids must be unique');

/** A short line for lists: `agents: group agents → GET,POST /status /v1/scan`. */
export function describeRule(rule: AccessRule): string {
  const who = [
    rule.name !== undefined ? `name ${rule.name}` : '',
    rule.group !== undefined ? `group ${rule.group}` : '',
  ]
    .filter((s) => s !== '')
    .join(' and ');
  return `${rule.id}: ${who} → ${rule.methods.join(',')} ${rule.paths.join(' ')}`;
}

/** True when a group name is acceptable on a certificate (same rule as names). */
export function isGroupName(g: string): boolean {
  return CLIENT_NAME_RE.test(g) && g !== '.' && g !== '..';
}
