import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, initCa, issue, makeEnv, openssl, removeEnv, run, startServe, type Env } from '../helpers/cli';
import { startUpstream } from '../helpers/gateway-client';

/** `issue-client --group`, `policy add|list|test|remove` and `serve` enforcing the rules, with curl as the client. */
describe('access policy from the CLI', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env);
  });
  afterAll(() => removeEnv(env));

  const curl = (files: { cert: string; key: string; ca: string }, port: number, method: string, p: string) =>
    run('curl', [
      '-sS',
      '--cacert',
      files.ca,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '-X',
      method,
      '-w',
      '\n%{http_code}',
      `https://localhost:${port}${p}`,
    ]);

  it('groups go into the certificate as OUs; bad groups are refused', async () => {
    const agent = await issue(env, 'scanner-1', ['--group', 'agents', '--group', 'eu']);
    const subject = await openssl([
      'x509',
      '-in',
      agent.files.cert,
      '-noout',
      '-subject',
      '-nameopt',
      'RFC2253',
    ]);
    expect(subject.stdout.trim()).toBe('subject=CN=scanner-1,OU=eu,OU=agents');
    const bad = await cli(env, ['issue-client', '--name', 'x', '--group', 'a,b', '--out-dir', env.tmp]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('adds, lists, tests and removes rules, each audited; serve enforces them at once', async () => {
    const agent = await issue(env, 'scanner-2', ['--group', 'agents']);
    const other = await issue(env, 'laptop');
    const upstream = await startUpstream();
    const { child: serve, port } = await startServe(env, `http://127.0.0.1:${upstream.port}`);
    try {
      // No rules: everything is allowed.
      expect((await curl(other.files, port, 'DELETE', '/v1/anything')).stdout.endsWith('\n200')).toBe(true);

      // serve writes audit records meanwhile, so "nothing changed" is read as the saved rules.
      const bad = await cli(env, [
        'policy',
        'add',
        '--group',
        'agents',
        '--method',
        'GET',
        '--path',
        'status',
      ]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('starts with /');
      expect((await cli(env, ['policy', 'list', '--json'])).stdout.trim()).toBe('[]');

      const add = await cli(env, [
        'policy',
        'add',
        '--id',
        'agents',
        '--group',
        'agents',
        '--method',
        'get,POST',
        '--path',
        '/status,/v1/scan',
      ]);
      expect(add.code).toBe(0);
      expect(add.stdout).toContain('from now on, requests no rule allows are denied (403)');
      const list = await cli(env, ['policy', 'list']);
      expect(list.stdout).toContain('agents: group agents → GET,POST /status /v1/scan');

      const t1 = await cli(env, [
        'policy',
        'test',
        '--name',
        'scanner-2',
        '--group',
        'agents',
        '--method',
        'post',
        '--path',
        '/v1/scan/../scan/9',
      ]);
      expect(t1.stdout.trim()).toBe('allowed by rule agents');
      const t2 = await cli(env, [
        'policy',
        'test',
        '--name',
        'laptop',
        '--method',
        'GET',
        '--path',
        '/status',
      ]);
      expect(t2.stdout.trim()).toBe('denied: no rule allows GET /status for laptop');

      // serve picks the committed rules up (data_version poll): poll a bounded number of times.
      let status = '';
      for (let i = 0; i < 50 && status !== '403'; i++) {
        status = (await curl(other.files, port, 'GET', '/status')).stdout.split('\n').pop() ?? '';
      }
      expect(status).toBe('403');
      const denied = await curl(other.files, port, 'GET', '/status');
      expect(denied.stdout).toBe('forbidden: no rule allows GET /status for laptop\n\n403');
      expect((await curl(agent.files, port, 'GET', '/status')).stdout.endsWith('\n200')).toBe(true);
      expect((await curl(agent.files, port, 'DELETE', '/status')).stdout.endsWith('\n403')).toBe(true);
      expect(upstream.requests.filter((r) => r[':path'] === '/status').length).toBe(1);

      expect((await cli(env, ['policy', 'remove', '--id', 'nope'])).code).toBe(1);
      const rm = await cli(env, ['policy', 'remove', '--id', 'agents']);
      expect(rm.stdout).toContain('no rules left');

      const audit = await cli(env, ['audit', '--type', 'settings.gateway.changed', '--json']);
      const changes = (
        JSON.parse(audit.stdout) as {
          records: { details: { changed: Record<string, unknown> }; actor: { kind: string } }[];
        }
      ).records;
      expect(changes.filter((c) => 'accessRules' in c.details.changed)).toHaveLength(2);
      expect(changes.every((c) => c.actor.kind === 'operator')).toBe(true);
      const refused = await cli(env, ['audit', '--type', 'gateway.request.refused', '--json']);
      expect(refused.stdout).toContain('policy_denied');
    } finally {
      serve.kill('SIGTERM');
      await upstream.close();
    }
  });
});
