import { z } from 'zod';
import { CLIENT_NAME_RE, clientNameSchema } from './validation';

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

export type AccessRule = z.output<typeof accessRuleSchema>;

export const accessRulesSchema = z
  .array(accessRuleSchema)
  .max(200)
  .refine((rules) => new Set(rules.map((r) => r.id)).size === rules.length, 'rule ids must be unique');

/** Who is asking: the certificate's CN and its OUs. */
export interface PolicySubject {
  readonly name: string;
  readonly groups: readonly string[];
}

export type PolicyDecision =
  | { readonly allowed: true; readonly rule: string | null }
  | { readonly allowed: false; readonly rule: string | null; readonly reason: string };

function patternMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const parts = pattern.split('*').map((p) => p.replace(/[.]/g, '\\.'));
  return new RegExp(`^${parts.join('.*')}$`).test(name);
}

function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/' || prefix === path) return true;
  return prefix.endsWith('/') ? path.startsWith(prefix) : path.startsWith(`${prefix}/`);
}

function methodMatches(methods: readonly string[], method: string): boolean {
  // As nginx's limit_except: allowing GET allows HEAD.
  return methods.some((m) => m === '*' || m === method || (m === 'GET' && method === 'HEAD'));
}

function subjectMatches(rule: AccessRule, who: PolicySubject): boolean {
  if (rule.name !== undefined && !patternMatches(rule.name, who.name)) return false;
  if (rule.group !== undefined && !who.groups.includes(rule.group)) return false;
  return true;
}

/** The decision for one request; `path` is the gateway's normalised path without the query. */
export function decide(
  rules: readonly AccessRule[],
  who: PolicySubject,
  method: string,
  path: string,
): PolicyDecision {
  if (rules.length === 0) return { allowed: true, rule: null };
  let nearest: AccessRule | null = null;
  for (const rule of rules) {
    if (!subjectMatches(rule, who)) continue;
    nearest ??= rule;
    if (methodMatches(rule.methods, method) && rule.paths.some((p) => prefixMatches(p, path))) {
      return { allowed: true, rule: rule.id };
    }
  }
  const groups = who.groups.length > 0 ? ` (groups ${who.groups.join(', ')})` : '';
  return {
    allowed: false,
    rule: nearest?.id ?? null,
    reason: nearest
      ? `rule ${nearest.id} does not allow ${method} ${path} for ${who.name}`
      : `no rule allows ${method} ${path} for ${who.name}${groups}`,
  };
}

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
