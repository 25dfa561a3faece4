import path from 'node:path';
import tls from 'node:tls';
import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoggingUpstream } from '../../src/main/gateway/requests.fixture';
import { initCa, issue, makeEnv, removeEnv, startServe, type Env, type IssueJson } from '../helpers/cli';
import { KeepAliveClient } from '../helpers/gateway-client';

/**
 * Issue 8 item 1 against the real `serve`: one client pipelines a slow request and 120 large ones
 * and hangs up after 50 ms. Other clients must still be served, and SIGTERM must stop `serve`
 * within its grace period (5 s for in-flight requests + 3 s before SIGKILL).
 */
describe('serve under a pipelining flood', () => {
  let env: Env;
  let upstream: LoggingUpstream;
  let child: ChildProcess;
  let port = 0;
  let output: () => string = () => '';
  let alice: IssueJson;

  beforeAll(async () => {
    env = await makeEnv();
    await initCa(env);
    alice = await issue(env, 'alice', ['--out-dir', path.join(env.tmp, 'alice')]);
    upstream = new LoggingUpstream();
    await upstream.listen();
    const serve = await startServe(env, upstream.url);
    child = serve.child;
    port = serve.port;
    output = serve.output;
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await upstream?.close();
    await removeEnv(env);
  });

  function attack(): Promise<void> {
    return new Promise((resolve) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        cert: fs.readFileSync(alice.files.cert),
        key: fs.readFileSync(alice.files.key),
        ca: fs.readFileSync(alice.files.ca),
      });
      s.on('error', () => undefined);
      s.once('secureConnect', () => {
        const get = (p: string) => `GET ${p} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
        s.write(get('/slow?ms=2000') + get('/big?bytes=2000000').repeat(120));
        setTimeout(() => s.destroy(), 50);
      });
      // The attacker cuts its own connection, so a reset is part of the attack, not a failure.
      s.once('close', () => resolve());
    });
  }

  it('keeps serving other clients, sends nothing queued upstream, and stops on SIGTERM in time', async () => {
    for (let i = 0; i < 3; i++) await attack();
    const client = await KeepAliveClient.connect(port, alice.files);
    const t0 = Date.now();
    expect(await client.get('/after-attack')).toBe(200);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(upstream.log.filter((e) => e.url.startsWith('/big')).length).toBe(0);

    // An attack in progress when the signal arrives.
    void attack();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const sent = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(8_000);
    expect(output()).toContain('gateway stopped');
    client.close();
  }, 30_000);
});
