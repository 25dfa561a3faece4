import { once } from 'node:events';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, initCa, issue, makeEnv, removeEnv, run, startServe, type Env } from '../helpers/cli';

const TOKEN = 'dc-token-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e';

/**
 * A stand-in of the DefenseClaw sidecar (the seed's "Authentication" page): every route but
 * GET /health wants the token (Bearer or X-DefenseClaw-Token); mutating calls pass a CSRF guard
 * (X-DefenseClaw-Client, a JSON content type, and a localhost Origin when one is sent).
 */
async function sidecar(): Promise<{
  port: number;
  seen: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    const send = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    };
    const auth =
      req.headers.authorization === `Bearer ${TOKEN}` || req.headers['x-defenseclaw-token'] === TOKEN;
    if (!(req.method === 'GET' && req.url === '/health') && !auth) return send(401, 'missing or bad token');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      if (req.headers['x-defenseclaw-client'] === undefined)
        return send(403, 'csrf: no X-DefenseClaw-Client');
      if (!String(req.headers['content-type']).startsWith('application/json'))
        return send(403, 'csrf: not JSON');
      if (origin !== undefined && !/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(origin)) {
        return send(403, `csrf: origin ${origin}`);
      }
    }
    send(200, `ok ${req.method} ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

describe('upstream credentials: clients call the sidecar through the gateway without its token', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env);
  });
  afterAll(() => removeEnv(env));

  it('adds the sealed token and the CSRF header, replaces client values, rewrites only our own Origin', async () => {
    const tokenFile = path.join(env.tmp, 'token');
    await fs.writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o644 });
    const loose = await cli(env, [
      'upstream-header',
      'set',
      '--name',
      'X-DefenseClaw-Token',
      '--value-file',
      tokenFile,
    ]);
    expect(loose.code).toBe(2);
    expect(loose.stderr).toContain('readable by group or others');
    await fs.chmod(tokenFile, 0o600);
    const reserved = await cli(env, [
      'upstream-header',
      'set',
      '--name',
      'X-Forwarded-For',
      '--value-file',
      tokenFile,
    ]);
    expect(reserved.code).toBe(2);
    expect(reserved.stderr).toContain('--name: the gateway sets or frames this header itself');
    const twoLines = path.join(env.tmp, 'two-lines');
    await fs.writeFile(twoLines, `${TOKEN}\nsecond line\n`, { mode: 0o600 });
    const bad = await cli(env, ['upstream-header', 'set', '--name', 'X-Token', '--value-file', twoLines]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--value-file');
    expect(bad.stderr).not.toContain(TOKEN);

    expect(
      (await cli(env, ['upstream-header', 'set', '--name', 'X-DefenseClaw-Token', '--value-file', tokenFile]))
        .code,
    ).toBe(0);
    const clientFile = path.join(env.tmp, 'client-name');
    await fs.writeFile(clientFile, 'mtls-console\n', { mode: 0o600 });
    const csrf = await cli(env, [
      'upstream-header',
      'set',
      '--name',
      'X-DefenseClaw-Client',
      '--value-file',
      clientFile,
      '--methods',
      'post,put,patch,delete',
    ]);
    expect(csrf.code).toBe(0);
    const list = await cli(env, ['upstream-header', 'list']);
    expect(list.stdout).toContain('X-DefenseClaw-Token: (sealed) on every method');
    expect(list.stdout).toContain('X-DefenseClaw-Client: (sealed) on POST,PUT,PATCH,DELETE');
    expect(list.stdout).not.toContain(TOKEN);

    const side = await sidecar();
    const client = await issue(env, 'agent-1');
    const {
      child: serve,
      port,
      output,
    } = await startServe(env, `http://127.0.0.1:${side.port}`, ['--rewrite-origin', 'on']);
    const curl = async (method: string, p: string, headers: string[] = []): Promise<string> => {
      const args = [
        '-sS',
        '--cacert',
        client.files.ca,
        '--cert',
        client.files.cert,
        '--key',
        client.files.key,
      ];
      for (const h of headers) args.push('-H', h);
      args.push('-X', method, '-w', ' %{http_code}', `https://localhost:${port}${p}`);
      return (await run('curl', args)).stdout;
    };
    try {
      expect(await curl('GET', '/v1/status')).toBe('ok GET /v1/status 200');
      const json = 'Content-Type: application/json';
      expect(await curl('POST', '/v1/scan', [json])).toBe('ok POST /v1/scan 200');
      // A client's own value never reaches the upstream: the configured one replaces it.
      expect(
        await curl('POST', '/v1/scan', [json, 'X-DefenseClaw-Token: stolen', 'X_DefenseClaw_Client: evil']),
      ).toBe('ok POST /v1/scan 200');
      const last = side.seen.at(-1)!;
      expect(last['x-defenseclaw-token']).toBe(TOKEN);
      expect(last['x-defenseclaw-client']).toBe('mtls-console');
      expect(Object.keys(last).filter((k) => k.includes('_'))).toEqual([]);
      // The CSRF header only on the methods it was set for.
      await curl('GET', '/v1/status');
      expect(side.seen.at(-1)!['x-defenseclaw-client']).toBeUndefined();
      // A browser on the gateway's own origin passes the localhost-Origin guard; any other origin does not.
      expect(await curl('POST', '/v1/scan', [json, `Origin: https://localhost:${port}`])).toBe(
        'ok POST /v1/scan 200',
      );
      expect(side.seen.at(-1)!.origin).toBe(`http://127.0.0.1:${side.port}`);
      expect(await curl('POST', '/v1/scan', [json, 'Origin: https://evil.example'])).toBe(
        'csrf: origin https://evil.example 403',
      );

      // Removed while serving: the next request goes without it.
      expect((await cli(env, ['upstream-header', 'remove', '--name', 'x-defenseclaw-token'])).code).toBe(0);
      let answer = '';
      for (let i = 0; i < 50 && !answer.endsWith('401'); i++) answer = await curl('GET', '/v1/status');
      expect(answer).toBe('missing or bad token 401');
    } finally {
      // Scanned below once serve has exited: its shutdown checkpoints and removes the -wal file.
      const exited = serve.exitCode === null ? once(serve, 'exit') : Promise.resolve();
      serve.kill('SIGTERM');
      await exited;
      await side.close();
    }

    // The token is in no file of the state dir in clear, nor in the audit, nor in serve's output.
    for (const f of await filesUnder(env.stateDir)) {
      expect((await fs.readFile(f)).includes(Buffer.from(TOKEN)), f).toBe(false);
    }
    const audit = await cli(env, ['audit', '--json', '--limit', '1000']);
    expect(audit.stdout).toContain('settings.upstream_credential.set');
    expect(audit.stdout).not.toContain(TOKEN);
    expect(output()).not.toContain(TOKEN);
  });
});
