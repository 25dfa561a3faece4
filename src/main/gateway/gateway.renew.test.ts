import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessRulesSchema } from '../../shared/policy';
import { TestPki, type Ca, type Pair } from './certs.fixture';
import { Gateway } from './gateway';
import { connect, inProcessGateway } from './harness.fixture';
import type { GatewayAuditEntry, RenewOutcome } from './protocol';
import { LoggingUpstream, RawReader } from './requests.fixture';
import { RENEW_PATH } from './renew-endpoint';

/**
 * The renewal endpoint on the gateway's own listener (issue 9). The test plays the parent: it signs
 * with a real CA (or refuses), as the console service does behind the supervisor.
 */
describe('gateway renewal endpoint', () => {
  const pki = TestPki.create();
  const upstream = new LoggingUpstream();
  let audit: GatewayAuditEntry[] = [];
  const asked: { serial: string; csrDer?: Buffer }[] = [];
  let refuse: RenewOutcome | null = null;
  let gateway: Gateway;
  let ca: Ca;
  let alice: Pair;
  let port: number;

  beforeAll(async () => {
    ca = await pki.ca('Renew CA');
    const server = await pki.server(ca);
    alice = await pki.client(ca, 'alice');
    await upstream.listen();
    ({ gateway, port, audit } = await inProcessGateway({
      ca,
      server,
      // A rule that allows nothing upstream: renewal is the gateway's own, not the upstream's.
      config: {
        upstream: upstream.url,
        accessRules: accessRulesSchema.parse([
          { id: 'none', name: 'nobody', methods: ['GET'], paths: ['/'] },
        ]),
      },
      // The endpoint's deadline is the upstream timeout.
      options: { upstreamTimeoutMs: 1_000 },
      renew: async (req) => {
        asked.push(req);
        if (refuse) return refuse;
        const next = await pki.client(ca, 'alice', `alice-${asked.length}`);
        return { ok: true, certPem: next.certPem, caPem: ca.certPem };
      },
    }));
  });

  afterAll(async () => {
    await gateway.stop(100);
    await upstream.close();
    pki.cleanup();
  });

  async function post(
    body: string | Buffer,
    method = 'POST',
    extra = '',
  ): Promise<{ status: number; body: string }> {
    const s = await connect(port, ca, alice);
    const r = new RawReader(s);
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    s.write(
      Buffer.concat([
        Buffer.from(
          `${method} ${RENEW_PATH} HTTP/1.1\r\nHost: x\r\ncontent-length: ${b.length}\r\n${extra}\r\n`,
        ),
        b,
      ]),
    );
    await r.until(() => r.responses.length === 1 || r.closed);
    s.destroy();
    return { status: r.responses[0]?.status ?? 0, body: r.responses[0]?.body ?? '' };
  }

  it('renews with the same key on an empty POST: the new certificate and the CA come back as PEM', async () => {
    const from = audit.length;
    const r = await post('');
    expect(r.status).toBe(200);
    const [leaf] = r.body.split(/(?<=-----END CERTIFICATE-----\n)/);
    const cert = new X509Certificate(leaf!);
    expect(cert.subject).toBe('CN=alice');
    expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(r.body).toContain(ca.certPem.trim());
    expect(asked.at(-1)).toEqual({ serial: alice.serial.toLowerCase() });
    expect(upstream.log.some((e) => e.url.includes('well-known'))).toBe(false);
    const rec = audit.slice(from).find((e) => e.type === 'gateway.request');
    expect(rec).toMatchObject({
      actor: { cn: 'alice' },
      details: { path: RENEW_PATH, status: 200, outcome: 'completed' },
    });
  });

  it('hands a CSR (PEM) to the signer as DER; refuses what is not a CSR, other methods and huge bodies', async () => {
    const key = path.join(pki.dir, 'csr.key');
    const csrFile = path.join(pki.dir, 'csr.pem');
    execFileSync('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      '/CN=whatever',
      '-out',
      csrFile,
    ]);
    const pem = execFileSync('openssl', ['req', '-in', csrFile]).toString();
    const der = execFileSync('openssl', ['req', '-in', csrFile, '-outform', 'DER']);
    expect((await post(pem)).status).toBe(200);
    expect(asked.at(-1)?.csrDer?.equals(der)).toBe(true);
    expect((await post(der)).status).toBe(200);
    expect(asked.at(-1)?.csrDer?.equals(der)).toBe(true);

    const n = asked.length;
    expect((await post('hello')).status).toBe(400);
    expect((await post('', 'GET')).status).toBe(405);
    expect((await post(Buffer.alloc(20_000, 0x30))).status).toBe(413);
    expect(asked.length).toBe(n);
  });

  it('answers 408 and frees the connection when the body never comes', async () => {
    const from = audit.length;
    const s = await connect(port, ca, alice);
    const r = new RawReader(s);
    s.write(`POST ${RENEW_PATH} HTTP/1.1\r\nHost: x\r\ncontent-length: 500\r\n\r\n-----BEGIN`);
    await r.until(() => r.closed, 5_000);
    expect(r.responses[0]?.status).toBe(408);
    const rec = audit.slice(from).find((e) => e.type === 'gateway.request');
    expect(rec?.details).toMatchObject({ path: RENEW_PATH, status: 408, reason: 'timeout' });
  });

  it("passes the signer's refusal on with its status and reason", async () => {
    refuse = { ok: false, status: 403, error: 'certificate 0a1b is not renewable' };
    try {
      const r = await post('');
      expect(r).toEqual({ status: 403, body: 'certificate 0a1b is not renewable\n' });
    } finally {
      refuse = null;
    }
  });
});
