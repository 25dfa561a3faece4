/**
 * The access decision of policy.ts (issue 11 §2), without zod: the gateway child process runs it on
 * every request and loads no zod (issue 12). policy.ts holds the schemas and re-exports this.
 */

/** One access rule, as accessRuleSchema outputs it (policy.ts checks the two stay the same). */
export interface AccessRule {
  readonly id: string;
  /** A client name, or a pattern where `*` stands for any run of characters (`agent-*`). */
  readonly name?: string | undefined;
  readonly group?: string | undefined;
  readonly methods: string[];
  readonly paths: string[];
}

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
