import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI, cli, initCa, makeEnv, openssl, removeEnv, type Env } from '../helpers/cli';
import { auditQueryInputSchema } from '../../src/shared/contract';
import type { AuditPage, AuditRecord, StatusInfo } from '../../src/shared/model';

// `mtls-console mcp` (issue 11) as an agent host runs it: the built CLI as a child process, spoken to
// over its stdin/stdout by the MCP SDK's own client.

interface Connected {
  client: Client;
  stderr: () => string;
}

async function connect(env: Env, args: readonly string[], name: string): Promise<Connected> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, '--state-dir', env.stateDir, '--passphrase-file', env.passphraseFile, 'mcp', ...args],
    cwd: env.tmp,
    stderr: 'pipe',
  });
  let stderr = '';
  // Its one line on stderr says it is serving and with which allow-list.
  const serving = new Promise<void>((resolve) =>
    transport.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes(' over stdio; ')) resolve();
    }),
  );
  const client = new Client({ name, version: '1.2.3' });
  await client.connect(transport);
  await serving;
  return { client, stderr: () => stderr };
}

async function call(c: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await c.callTool({ name, arguments: args })) as CallToolResult;
}

function structured<T = Record<string, unknown>>(r: CallToolResult): T {
  expect(r.isError ?? false, JSON.stringify(r.content)).toBe(false);
  return r.structuredContent as T;
}

function refusal(r: CallToolResult): { code: string; message: string } {
  expect(r.isError).toBe(true);
  return (r.structuredContent as { error: { code: string; message: string } }).error;
}

async function auditOf(env: Env, args: readonly string[]): Promise<AuditRecord[]> {
  const r = await cli(env, ['audit', '--json', '--limit', '1000', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return [...(JSON.parse(r.stdout) as AuditPage).records].reverse();
}

async function statusJson(env: Env): Promise<StatusInfo> {
  const r = await cli(env, ['status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusInfo;
}

interface IssuedJson {
  serial: string;
  name: string;
  notBefore: string;
  notAfter: string;
  files: { cert: string; key: string; ca: string };
  curl: string;
}

describe('mtls-console mcp, driven by the MCP SDK client over stdio', () => {
  let env: Env;
  beforeAll(async () => {
    env = await makeEnv('mtls-mcp-');
    await initCa(env);
  });
  afterAll(() => removeEnv(env));

  it('is read-only by default: lists every tool, answers the read tools, refuses the rest and bad input', async () => {
    const { client, stderr } = await connect(env, [], 'reader-agent');
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual([
        'mtls.status',
        'mtls.list_clients',
        'mtls.audit',
        'mtls.issue_client',
        'mtls.revoke',
        'mtls.renew_client',
      ]);
      const byName = new Map(tools.map((t) => [t.name, t]));
      // The schema is the contract's, as the app's IPC checks it.
      expect(byName.get('mtls.audit')?.inputSchema).toEqual(
        z.toJSONSchema(auditQueryInputSchema, { io: 'input' }),
      );
      for (const name of ['mtls.issue_client', 'mtls.revoke', 'mtls.renew_client']) {
        expect(byName.get(name)?.description).toMatch(/^\[disabled on this server: .*--allow /);
      }
      expect(byName.get('mtls.status')?.annotations?.readOnlyHint).toBe(true);
      expect(stderr()).toMatch(/serving .* over stdio; read-only/);

      const status = structured<StatusInfo & { mcp: { allow: string[]; client: string } }>(
        await call(client, 'mtls.status'),
      );
      expect(status.initialized).toBe(true);
      expect(status.ca?.algorithm).toBe('ecdsa-p256');
      expect(status.mcp).toEqual({ client: 'reader-agent', allow: [], bundleDir: null });

      const list = structured<{ clients: unknown[]; total: number }>(await call(client, 'mtls.list_clients'));
      expect(list).toMatchObject({ clients: [], total: 0, truncated: false });

      const page = structured<AuditPage>(
        await call(client, 'mtls.audit', { filter: { type: 'ca.' }, limit: 5 }),
      );
      expect(page.records.map((r) => r.type)).toEqual(['ca.initialized']);
      expect(page.total).toBe(1);

      // Other processes see this server and what it may do while it runs.
      const running = await statusJson(env);
      expect(running.mcpServers).toEqual([expect.objectContaining({ client: 'reader-agent', allow: [] })]);
      expect((await cli(env, ['status'])).stdout).toMatch(
        /^mcp: +reader-agent \(pid \d+, since .*\): read-only$/m,
      );

      const notAllowed = refusal(await call(client, 'mtls.issue_client', { name: 'sneaky' }));
      expect(notAllowed.code).toBe('FORBIDDEN');
      expect(notAllowed.message).toContain('--allow issue');
      expect(refusal(await call(client, 'mtls.revoke', { serial: 'ab' })).code).toBe('FORBIDDEN');

      const badLimit = refusal(await call(client, 'mtls.audit', { limit: 0 }));
      expect(badLimit.code).toBe('INVALID_INPUT');
      expect(badLimit.message).toMatch(/^mtls\.audit: limit: /);
      const unknownKey = refusal(await call(client, 'mtls.list_clients', { everything: true }));
      expect(unknownKey).toMatchObject({ code: 'INVALID_INPUT' });
      await expect(client.callTool({ name: 'mtls.init', arguments: {} })).rejects.toThrow(/unknown tool/);
    } finally {
      await client.close();
    }
    // Gone from status once it stopped.
    expect((await statusJson(env)).mcpServers).toEqual([]);

    const records = await auditOf(env, ['--actor', 'mcp:reader-agent']);
    expect(records.every((r) => r.actor.kind === 'operator' && r.actor.name === 'mcp:reader-agent')).toBe(
      true,
    );
    const calls = records.map((r) => [r.type, r.details.tool ?? null, r.details.reason ?? null]);
    expect(calls).toEqual([
      ['mcp.started', null, null],
      ['mcp.call', 'mtls.status', null],
      ['mcp.call', 'mtls.list_clients', null],
      ['mcp.call', 'mtls.audit', null],
      ['mcp.call.refused', 'mtls.issue_client', 'not-allowed'],
      ['mcp.call.refused', 'mtls.revoke', 'not-allowed'],
      ['mcp.call.refused', 'mtls.audit', 'invalid-input'],
      ['mcp.call.refused', 'mtls.list_clients', 'invalid-input'],
      ['mcp.call.refused', 'mtls.init', 'unknown-tool'],
      ['mcp.stopped', null, 'stdin closed'],
    ]);
    expect(records[0]?.details).toMatchObject({ allow: [], bundleDir: null, clientVersion: '1.2.3' });
    expect(records.at(-1)?.details).toMatchObject({ reason: 'stdin closed', calls: 8, refused: 5 });
  });

  it('with --allow issues into the bundle folder, renews, revokes, and audits each as mcp:<client>', async () => {
    const bundleDir = path.join(env.tmp, 'agent-bundles');
    const { client, stderr } = await connect(
      env,
      ['--allow', 'issue,revoke', '--allow', 'renew', '--bundle-dir', bundleDir],
      'writer-agent',
    );
    let first: IssuedJson;
    let renewed: IssuedJson;
    try {
      expect(stderr()).toMatch(/allowed: issue, revoke, renew; bundles go to /);
      const { tools } = await client.listTools();
      expect(tools.every((t) => !t.description?.startsWith('[disabled'))).toBe(true);

      const result = await call(client, 'mtls.issue_client', { name: 'agent-1', duration: '2h' });
      first = structured<IssuedJson>(result);
      expect(first.files).toEqual({
        cert: path.join(bundleDir, 'agent-1.crt'),
        key: path.join(bundleDir, 'agent-1.key'),
        ca: path.join(bundleDir, 'ca.crt'),
      });
      expect(first.curl).toContain(`--key '${first.files.key}'`);
      expect(Date.parse(first.notAfter) - Date.now()).toBeLessThanOrEqual(2 * 3_600_000);
      // The key is on disk, 0600, and nowhere in what the agent got back.
      const key = await fs.readFile(first.files.key, 'utf8');
      expect(key).toContain('PRIVATE KEY');
      expect(((await fs.stat(first.files.key)).mode & 0o777).toString(8)).toBe('600');
      const keyBody = key.split('\n').slice(1, -2).join('');
      const wire = JSON.stringify(result);
      expect(wire).not.toContain('PRIVATE KEY');
      expect(wire).not.toContain(keyBody.slice(0, 40));
      const serial = await openssl([
        'x509',
        '-in',
        first.files.cert,
        '-noout',
        '-serial',
        '-subject',
        '-nameopt',
        'RFC2253',
      ]);
      expect(serial.stdout.toLowerCase()).toContain(`serial=${first.serial}`);
      expect(serial.stdout).toContain('CN=agent-1');

      const again = refusal(await call(client, 'mtls.issue_client', { name: 'agent-1' }));
      expect(again.code).toBe('ALREADY_EXISTS');
      expect(again.message).toContain('mtls.renew_client');
      expect(refusal(await call(client, 'mtls.issue_client', { name: '../etc' })).code).toBe('INVALID_INPUT');
      // The folder is the operator's: an agent cannot name another one, nor force an overwrite.
      const outDir = refusal(await call(client, 'mtls.issue_client', { name: 'agent-2', outDir: env.tmp }));
      expect(outDir).toEqual({ code: 'INVALID_INPUT', message: expect.stringMatching(/outDir/) });

      renewed = structured<IssuedJson>(await call(client, 'mtls.renew_client', { serial: first.serial }));
      expect(renewed.serial).not.toBe(first.serial);
      expect(renewed.name).toBe('agent-1');
      expect(Date.parse(renewed.notAfter) - Date.parse(renewed.notBefore)).toBe(
        Date.parse(first.notAfter) - Date.parse(first.notBefore),
      );
      expect(renewed.files).toEqual(first.files);
      expect(await fs.readFile(first.files.key, 'utf8')).not.toBe(key);
      expect(((await fs.stat(first.files.key)).mode & 0o777).toString(8)).toBe('600');

      const revoked = structured<{ serial: string; alreadyRevoked: boolean }>(
        await call(client, 'mtls.revoke', { serial: renewed.serial.toUpperCase(), reason: 'keyCompromise' }),
      );
      expect(revoked).toMatchObject({
        serial: renewed.serial,
        alreadyRevoked: false,
        reason: 'keyCompromise',
      });
      const noRenewal = refusal(await call(client, 'mtls.renew_client', { serial: renewed.serial }));
      expect(noRenewal.code).toBe('INVALID_INPUT');
      expect(noRenewal.message).toContain('is revoked');

      const list = structured<{ clients: { serial: string; status: string }[] }>(
        await call(client, 'mtls.list_clients', { name: 'agent-1' }),
      );
      // Newest first; re-issue leaves the old certificate valid, shown as superseded.
      expect(list.clients.map((c) => [c.serial, c.status])).toEqual([
        [renewed.serial, 'revoked'],
        [first.serial, 'superseded'],
      ]);
      const shown = (await statusJson(env)).mcpServers ?? [];
      expect(shown).toEqual([
        expect.objectContaining({ client: 'writer-agent', allow: ['issue', 'revoke', 'renew'], bundleDir }),
      ]);
    } finally {
      await client.close();
    }

    const records = await auditOf(env, ['--actor', 'mcp:writer-agent']);
    const ops = records
      .filter((r) => r.type !== 'mcp.call.refused' && r.type !== 'mcp.call.failed')
      .map((r) => [r.type, r.serial, r.details.tool ?? null]);
    expect(ops).toEqual([
      ['mcp.started', null, null],
      ['client.issued', first.serial, null],
      ['mcp.call', first.serial, 'mtls.issue_client'],
      ['client.issued', renewed.serial, null],
      ['mcp.call', renewed.serial, 'mtls.renew_client'],
      ['client.revoked', renewed.serial, null],
      ['crl.published', null, null],
      ['mcp.call', renewed.serial, 'mtls.revoke'],
      ['mcp.call', null, 'mtls.list_clients'],
      ['mcp.stopped', null, null],
    ]);
    const refused = records.filter((r) => r.type === 'mcp.call.refused').map((r) => r.details.tool);
    expect(refused).toEqual(['mtls.issue_client', 'mtls.issue_client']);
    const failed = records
      .filter((r) => r.type === 'mcp.call.failed')
      .map((r) => [r.details.tool, r.details.code]);
    expect(failed).toEqual([
      ['mtls.issue_client', 'ALREADY_EXISTS'],
      ['mtls.renew_client', 'INVALID_INPUT'],
    ]);
    // The operator who started it proved the passphrase; that is recorded under their own name.
    const unlocks = await auditOf(env, ['--type', 'vault.unlocked']);
    expect(unlocks.length).toBeGreaterThan(0);
    expect(unlocks.every((r) => r.actor.kind === 'operator' && !r.actor.name.startsWith('mcp:'))).toBe(true);
  });

  it('stops cleanly on SIGTERM; one killed with -9 drops out of status by itself', async () => {
    const pidOf = async (client: string): Promise<number> => {
      const found = (await statusJson(env)).mcpServers?.find((m) => m.client === client);
      if (!found) throw new Error(`${client} is not in status`);
      return found.pid;
    };
    for (const [client, signal] of [
      ['term-agent', 'SIGTERM'],
      ['killed-agent', 'SIGKILL'],
    ] as const) {
      const c = await connect(env, [], client);
      const closed = new Promise<void>((resolve) => (c.client.onclose = resolve));
      structured(await call(c.client, 'mtls.status'));
      process.kill(await pidOf(client), signal);
      await closed;
    }
    expect((await statusJson(env)).mcpServers).toEqual([]);
    const stops = await auditOf(env, ['--type', 'mcp.stopped', '--actor', 'mcp:term-agent']);
    expect(stops.map((r) => r.details.reason)).toEqual(['SIGTERM']);
    expect(await auditOf(env, ['--type', 'mcp.stopped', '--actor', 'mcp:killed-agent'])).toEqual([]);
  });

  it('refuses to start, with one line and no MCP session, when its allow-list could not work', async () => {
    const cases: [readonly string[], number, RegExp][] = [
      [['mcp', '--allow', 'issue'], 2, /--bundle-dir DIR/],
      [['mcp', '--allow', 'everything'], 2, /--allow: unknown tool group "everything"/],
      [['mcp', '--allow', 'issue', '--bundle-dir', path.join(env.stateDir, 'b')], 2, /inside the state dir/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(env, args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    // No passphrase given: stdin is the MCP channel, so it is never prompted for.
    const noPass = await cli(null, ['--state-dir', env.stateDir, 'mcp', '--allow', 'revoke']);
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toMatch(/needs the CA passphrase: pass --passphrase-file FILE/);
    const wrong = path.join(env.tmp, 'wrong-pass');
    await fs.writeFile(wrong, 'not the passphrase\n', { mode: 0o600 });
    const bad = await cli(null, [
      '--state-dir',
      env.stateDir,
      '--passphrase-file',
      wrong,
      'mcp',
      '--allow',
      'revoke',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const empty = await cli(null, ['--state-dir', path.join(env.tmp, 'no-ca'), 'mcp']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/no CA in .*mtls-console init/);
    expect((await statusJson(env)).mcpServers).toEqual([]);
  });
});
