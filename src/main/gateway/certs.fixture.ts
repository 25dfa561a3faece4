import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createCa,
  exportPrivateKeyPkcs8Der,
  issueClientCert,
  issueServerCert,
  privateKeyPem,
  randomSerial,
  type SigningCa,
} from '../pki';

/**
 * Test PKI on the real src/main/pki, with clocks moved on purpose for expired and not-yet-valid
 * certificates. Files are written for curl and openssl.
 */

const DAY = 86_400_000;

export interface Pair {
  readonly certPem: string;
  readonly keyPem: string;
  /** Lowercase hex, as the registry stores it. */
  readonly serial: string;
  /** Paths of the written files. */
  readonly certFile: string;
  readonly keyFile: string;
}

export interface Ca extends Pair {
  readonly signing: SigningCa;
  readonly name: string;
}

async function keyPem(key: CryptoKey): Promise<string> {
  return privateKeyPem(await exportPrivateKeyPkcs8Der(key));
}

export class TestPki {
  readonly dir: string;

  private constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'gw-pki-'));
  }

  static create(): TestPki {
    return new TestPki();
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private write(name: string, certPem: string, key: string): { certFile: string; keyFile: string } {
    const certFile = path.join(this.dir, `${name}.crt`);
    const keyFile = path.join(this.dir, `${name}.key`);
    writeFileSync(certFile, certPem);
    writeFileSync(keyFile, key, { mode: 0o600 });
    return { certFile, keyFile };
  }

  async ca(name: string): Promise<Ca> {
    const { cert, keys } = await createCa({
      algorithm: 'ecdsa-p256',
      commonName: name,
      now: new Date(),
      serial: randomSerial(),
    });
    const kp = await keyPem(keys.privateKey);
    const files = this.write(name.replace(/\W/g, '_'), cert.certPem, kp);
    return {
      certPem: cert.certPem,
      keyPem: kp,
      serial: cert.serial,
      signing: { certPem: cert.certPem, privateKey: keys.privateKey },
      name,
      ...files,
    };
  }

  /** A client cert; `now` moves the issuing clock (validity starts a minute before it). */
  async client(
    ca: Ca,
    cn: string,
    file = cn,
    opts: { now?: Date; notAfter?: Date; groups?: string[] } = {},
  ): Promise<Pair> {
    const now = opts.now ?? new Date();
    const { cert, keys } = await issueClientCert({
      ca: ca.signing,
      algorithm: 'ecdsa-p256',
      commonName: cn,
      groups: opts.groups ?? [],
      now,
      notAfter: opts.notAfter ?? new Date(now.getTime() + DAY),
      serial: randomSerial(),
    });
    const kp = await keyPem(keys.privateKey);
    return { certPem: cert.certPem, keyPem: kp, serial: cert.serial, ...this.write(file, cert.certPem, kp) };
  }

  /** A server cert (EKU serverAuth only) for 127.0.0.1 and localhost. */
  async server(ca: Ca, file = 'server', hosts = ['localhost', '127.0.0.1']): Promise<Pair> {
    const { cert, keys } = await issueServerCert({
      ca: ca.signing,
      algorithm: 'ecdsa-p256',
      hosts,
      validityDays: 90,
      now: new Date(),
      serial: randomSerial(),
    });
    const kp = await keyPem(keys.privateKey);
    return { certPem: cert.certPem, keyPem: kp, serial: cert.serial, ...this.write(file, cert.certPem, kp) };
  }
}

export const DAY_MS = DAY;
