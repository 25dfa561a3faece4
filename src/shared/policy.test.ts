import { describe, expect, it } from 'vitest';
import { accessRuleSchema, accessRulesSchema, decide, type AccessRule } from './policy';

const rules: AccessRule[] = [
  accessRuleSchema.parse({
    id: 'agents',
    group: 'agents',
    methods: ['get', 'POST'],
    paths: ['/status', '/v1/scan'],
  }),
  accessRuleSchema.parse({ id: 'ops', name: 'op-*', methods: ['PATCH'], paths: ['/v1/guardrail/config'] }),
  accessRuleSchema.parse({ id: 'root', name: 'root@ops', methods: ['*'], paths: ['/'] }),
];
const agent = { name: 'scanner-1', groups: ['agents'] };

describe('access policy', () => {
  it('allows everything when there are no rules', () => {
    expect(decide([], agent, 'DELETE', '/admin')).toEqual({ allowed: true, rule: null });
  });

  it('allows what a rule names, on segment boundaries, and HEAD where GET is allowed', () => {
    expect(decide(rules, agent, 'GET', '/status')).toEqual({ allowed: true, rule: 'agents' });
    expect(decide(rules, agent, 'HEAD', '/status')).toEqual({ allowed: true, rule: 'agents' });
    expect(decide(rules, agent, 'POST', '/v1/scan/42')).toEqual({ allowed: true, rule: 'agents' });
    expect(decide(rules, agent, 'POST', '/v1/scanner').allowed).toBe(false);
    expect(decide(rules, agent, 'DELETE', '/status').allowed).toBe(false);
  });

  it('denies by default once there is a rule, naming the nearest rule or saying none matched', () => {
    const d = decide(rules, agent, 'PATCH', '/v1/guardrail/config');
    expect(d).toMatchObject({ allowed: false, rule: 'agents' });
    const nobody = decide(rules, { name: 'mallory', groups: [] }, 'GET', '/status');
    expect(nobody).toMatchObject({ allowed: false, rule: null });
    if (!nobody.allowed) expect(nobody.reason).toBe('no rule allows GET /status for mallory');
  });

  it('matches name patterns with * and nothing else as a wildcard', () => {
    expect(decide(rules, { name: 'op-alice', groups: [] }, 'PATCH', '/v1/guardrail/config').allowed).toBe(
      true,
    );
    expect(decide(rules, { name: 'opXalice', groups: [] }, 'PATCH', '/v1/guardrail/config').allowed).toBe(
      false,
    );
    expect(decide(rules, { name: 'root@ops', groups: [] }, 'DELETE', '/anything').allowed).toBe(true);
    // `.` in a name is a dot, not "any character".
    const dot = [accessRuleSchema.parse({ id: 'd', name: 'a.b', methods: ['*'], paths: ['/'] })];
    expect(decide(dot, { name: 'aXb', groups: [] }, 'GET', '/').allowed).toBe(false);
  });

  it('refuses malformed rules with readable messages', () => {
    const bad = (r: unknown): string => accessRuleSchema.safeParse(r).error?.issues[0]?.message ?? '';
    expect(bad({ id: 'x', methods: ['GET'], paths: ['/'] })).toBe(
      'a rule names a client (pattern) or a group',
    );
    expect(bad({ id: 'x', group: 'g', methods: ['GET'], paths: ['status'] })).toContain('starts with /');
    expect(bad({ id: 'x', group: 'g', methods: ['GET'], paths: ['/a/../b'] })).toContain('no . or ..');
    expect(bad({ id: 'x', group: 'g', methods: ['GET /'], paths: ['/'] })).toContain('method');
    expect(bad({ id: 'X Y', group: 'g', methods: ['GET'], paths: ['/'] })).toContain('rule id');
    expect(accessRulesSchema.safeParse([rules[0], rules[0]]).success).toBe(false);
  });
});
