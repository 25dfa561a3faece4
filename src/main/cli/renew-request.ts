/**
 * One client renewal (issue 9), run on the client's machine: POST to the gateway's
 * `/.well-known/mtls-console/renew` over mTLS with the current certificate, check what comes back,
 * and replace the files atomically. No state dir and no CA key are involved.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import { ConsoleError } from '../errors';
import { makeKeyAndCsr } from '../pki/csr-make';
import { atomicWriteFile } from '../store';

export const RENEW_PATH = '/.well-known/mtls-console/renew';
const MAX_PEM_FILE = 1024 * 1024;
/** The answer is a certificate and the CA's: a few KB. */
const MAX_ANSWER = 256 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;

export interface RenewFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** The client's current material, read and cross-checked. */
export interface CurrentCert {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  /** How many certificates the cert file holds: one (a bundle's NAME.crt) or a chain (curl's -o). */
  readonly blocks: number;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly commonName: string;
}

export interface Renewed {
  readonly serial: string;
  readonly previousSerial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly rekey: boolean;
}

const CERT_BLOCK_RE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

async function readPem(what: string, file: string): Promise<string> {
  const st = await fs.stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new ConsoleError('IO', `cannot read the ${what} ${file}: ${e.code ?? e.message}`);
  });
  if (!st.isFile()) throw new ConsoleError('INVALID_INPUT', `the ${what} ${file} is not a file`);
  if (st.size > MAX_PEM_FILE) throw new ConsoleError('INVALID_INPUT', `the ${what} ${file} is too large`);
  return fs.readFile(file, 'utf8');
}

function certBlocks(pem: string): string[] {
  return pem.match(CERT_BLOCK_RE) ?? [];
}

function parseCert(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ConsoleError('INVALID_INPUT', `${what} is not a PEM certificate`);
  }
}

/** Reads the three files; refuses a key that is not the certificate's, and a certificate --ca did not sign. */
export async function readCurrent(files: RenewFiles): Promise<CurrentCert> {
  const [certPem, keyPem, caPem] = await Promise.all([
    readPem('certificate', files.cert),
    readPem('key', files.key),
    readPem('CA certificate', files.ca),
  ]);
  const blocks = certBlocks(certPem);
  const leafPem = blocks[0];
  if (leafPem === undefined)
    throw new ConsoleError('INVALID_INPUT', `${files.cert} holds no PEM certificate`);
  const cert = parseCert(leafPem, files.cert);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new ConsoleError(
      'INVALID_INPUT',
      `${files.key} is not a PEM private key (an encrypted key cannot be used)`,
    );
  }
  if (!cert.checkPrivateKey(key)) {
    throw new ConsoleError('INVALID_INPUT', `${files.key} is not the key of ${files.cert}`);
  }
  if (!issuedByAny(cert, caPem)) {
    throw new ConsoleError('INVALID_INPUT', `${files.cert} was not issued by a CA in ${files.ca}`);
  }
  return {
    certPem,
    keyPem,
    caPem,
    cert,
    key,
    blocks: blocks.length,
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    commonName: /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '',
  };
}

function tryCert(pem: string): X509Certificate | null {
  try {
    return new X509Certificate(pem);
  } catch {
    return null;
  }
}

/**
 * A CA rollover (issue 9): the renewed certificate comes from the new CA, and the answer carries the
 * cross certificate (the new CA's key certified by the old CA) and the new root. When the leaf checks
 * out through a cross certificate issued by a CA in --ca, the new root with that same name and key is
 * returned, to be trusted from now on (the old root vouched for its key); null otherwise.
 */
function rolledOverRoot(leaf: X509Certificate, answer: readonly string[], caPem: string): string | null {
  const certs = answer.map((pem) => ({ pem, cert: tryCert(pem) }));
  for (const { cert: cross } of certs) {
    if (!cross?.ca || cross.subject === cross.issuer) continue;
    if (!leaf.checkIssued(cross) || !leaf.verify(cross.publicKey) || !issuedByAny(cross, caPem)) continue;
    const root = certs.find(
      ({ cert }) =>
        cert?.ca === true &&
        cert.subject === cross.subject &&
        cert.checkIssued(cert) &&
        cert.publicKey.equals(cross.publicKey) &&
        cert.verify(cert.publicKey),
    );
    if (root) return root.pem;
  }
  return null;
}

function issuedByAny(cert: X509Certificate, caPem: string): boolean {
  return certBlocks(caPem).some((block) => {
    try {
      const ca = new X509Certificate(block);
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

/** An answer the gateway sent with a status other than 200, as the error the CLI reports. */
export class RenewRefused extends ConsoleError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    // Exit 1 either way: a refusal by the gateway is not bad usage of this command (which is exit 2).
    super(status === 429 ? 'RATE_LIMITED' : status >= 400 && status < 500 ? 'FORBIDDEN' : 'GATEWAY', message);
  }

  /** Worth another try later: the gateway or the CA was busy, down, or asked us to wait. */
  get retryable(): boolean {
    return this.status === 429 || this.status === 408 || this.status >= 500;
  }
}

/** POSTs the renewal over mTLS; resolves with the answer body of a 200. Network failures reject GATEWAY. */
function post(url: URL, current: CurrentCert, body: Buffer | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        protocol: 'https:',
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port === '' ? 443 : Number(url.port),
        path: RENEW_PATH,
        method: 'POST',
        cert: current.certPem,
        key: current.keyPem,
        ca: current.caPem,
        // A fresh connection every time: a pooled one would still present the previous certificate.
        agent: false,
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          'content-length': String(body?.length ?? 0),
          ...(body ? { 'content-type': 'application/pkcs10' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER) {
            req.destroy(new Error(`the answer is larger than ${MAX_ANSWER} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status === 200) resolve(text);
          else {
            const line = text.split('\n')[0]?.trim().slice(0, 300) || res.statusMessage || 'no reason given';
            reject(new RenewRefused(status, `the gateway refused the renewal (HTTP ${status}): ${line}`));
          }
        });
        res.on('error', (e) => reject(gatewayError(url, e)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on('error', (e) => reject(e instanceof ConsoleError ? e : gatewayError(url, e)));
    req.end(body ?? undefined);
  });
}

function gatewayError(url: URL, e: Error): ConsoleError {
  const code = (e as NodeJS.ErrnoException).code;
  return new ConsoleError(
    'GATEWAY',
    `renewal at ${url.origin} failed: ${code ? `${code}: ` : ''}${e.message}`,
  );
}

/**
 * Renews once: the new certificate must carry the expected key (the current one, or the new one of a
 * rekey), be signed by a CA in --ca and be valid; only then are the files replaced (key first).
 */
export async function renewOnce(url: URL, files: RenewFiles, rekey: boolean): Promise<Renewed> {
  const current = await readCurrent(files);
  const fresh = rekey ? await makeKeyAndCsr(current.cert.publicKey, current.commonName) : null;
  const answer = await post(url, current, fresh ? fresh.csrDer : null);
  const blocks = certBlocks(answer);
  const leafPem = blocks[0];
  if (leafPem === undefined) throw new ConsoleError('GATEWAY', 'the gateway answered without a certificate');
  const leaf = parseCert(leafPem, 'the renewed certificate');
  const expectedKey = fresh ? createPrivateKey(fresh.keyPem) : current.key;
  if (!leaf.checkPrivateKey(expectedKey)) {
    throw new ConsoleError(
      'GATEWAY',
      'the renewed certificate is not for the expected key; files left as they were',
    );
  }
  const direct = issuedByAny(leaf, current.caPem);
  const newRoot = direct ? null : rolledOverRoot(leaf, blocks.slice(1), current.caPem);
  if (!direct && newRoot === null) {
    throw new ConsoleError(
      'GATEWAY',
      `the renewed certificate was not issued by a CA in ${files.ca}; files left as they were`,
    );
  }
  if (Date.parse(leaf.validTo) <= Date.now()) {
    throw new ConsoleError('GATEWAY', 'the renewed certificate is already expired; files left as they were');
  }
  // Same shape as before: a lone certificate stays lone; a chain file gets the chain the gateway sent.
  const certOut = current.blocks > 1 ? `${blocks.join('\n')}\n` : `${leafPem}\n`;
  const certMode = await modeOf(files.cert, 0o644);
  // The key goes first: a crash between the two renames leaves a new key with the old certificate,
  // which the next run reports (key does not match) rather than a certificate nobody holds the key of.
  if (fresh) await atomicWriteFile(files.key, fresh.keyPem, 0o600);
  // A CA rollover: the new root joins --ca before the certificate it verifies is written.
  if (newRoot !== null) {
    await atomicWriteFile(
      files.ca,
      `${current.caPem.trimEnd()}\n${newRoot}\n`,
      await modeOf(files.ca, 0o644),
    );
  }
  await atomicWriteFile(files.cert, certOut, certMode);
  return {
    // Whole bytes, as the console prints serials.
    serial: leaf.serialNumber.toLowerCase(),
    previousSerial: current.cert.serialNumber.toLowerCase(),
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: new Date(leaf.validTo).toISOString(),
    rekey: fresh !== null,
  };
}

async function modeOf(file: string, fallback: number): Promise<number> {
  return fs.stat(file).then(
    (st) => st.mode & 0o777,
    () => fallback,
  );
}
