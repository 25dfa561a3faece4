/**
 * PKCS#12 bundles for operators' browsers and curl. Modern algorithms only (PBES2 + AES-256-CBC,
 * PBKDF2-HMAC-SHA256, SHA-256 MAC) so OpenSSL 3 reads them without `-legacy`.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { certPemToDer } from './info';
import { nodeCrypto } from './webcrypto';

const OID_PKCS8_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const OID_FRIENDLY_NAME = '1.2.840.113549.1.9.20';
const OID_LOCAL_KEY_ID = '1.2.840.113549.1.9.21';

/** PBKDF2 runs natively in WebCrypto, so a high count is cheap for us and costly for guessers. */
const PBKDF2_ITERATIONS = 100_000;
/** The MAC's PKCS#12 KDF runs in pkijs's JavaScript SHA-256; 2048 is OpenSSL's own default. */
const MAC_ITERATIONS = 2048;

// A local engine instead of pkijs.setEngine keeps the global crypto engine untouched for other modules.
const engine = new pkijs.CryptoEngine({ name: 'node', crypto: nodeCrypto });

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return new Uint8Array(buf).buffer;
}

function parseCert(pem: string): pkijs.Certificate {
  return pkijs.Certificate.fromBER(toArrayBuffer(certPemToDer(pem)));
}

function attributes(friendlyName: string | null, localKeyId: Buffer | null): pkijs.Attribute[] {
  const attrs: pkijs.Attribute[] = [];
  if (friendlyName !== null) {
    attrs.push(
      new pkijs.Attribute({
        type: OID_FRIENDLY_NAME,
        values: [new asn1js.BmpString({ value: friendlyName })],
      }),
    );
  }
  if (localKeyId !== null) {
    attrs.push(
      new pkijs.Attribute({
        type: OID_LOCAL_KEY_ID,
        values: [new asn1js.OctetString({ valueHex: toArrayBuffer(localKeyId) })],
      }),
    );
  }
  return attrs;
}

export async function buildPkcs12(opts: {
  certPem: string;
  privateKeyPkcs8Der: Buffer;
  caCertPem: string;
  password: string;
  friendlyName: string;
}): Promise<Buffer> {
  const password = toArrayBuffer(Buffer.from(opts.password, 'utf8'));
  const encryption = {
    password,
    // pkijs draws a fresh random IV (and salt) per encryption; this iv only satisfies the AesCbcParams type.
    contentEncryptionAlgorithm: { name: 'AES-CBC', length: 256, iv: new Uint8Array(16) },
    hmacHashAlgorithm: 'SHA-256',
    iterationCount: PBKDF2_ITERATIONS,
  };
  const leaf = parseCert(opts.certPem);
  // localKeyID ties the key to its certificate; clients use it to pick the pair out of the bag.
  const localKeyId = createHash('sha1').update(certPemToDer(opts.certPem)).digest();

  const keyBag = new pkijs.PKCS8ShroudedKeyBag({
    parsedValue: pkijs.PrivateKeyInfo.fromBER(toArrayBuffer(opts.privateKeyPkcs8Der)),
  });
  await keyBag.makeInternalValues(encryption, engine);

  const keyContents = new pkijs.SafeContents({
    safeBags: [
      new pkijs.SafeBag({
        bagId: OID_PKCS8_SHROUDED_KEY_BAG,
        bagValue: keyBag,
        bagAttributes: attributes(opts.friendlyName, localKeyId),
      }),
    ],
  });
  const certContents = new pkijs.SafeContents({
    safeBags: [
      new pkijs.SafeBag({
        bagId: OID_CERT_BAG,
        bagValue: new pkijs.CertBag({ parsedValue: leaf }),
        bagAttributes: attributes(opts.friendlyName, localKeyId),
      }),
      new pkijs.SafeBag({
        bagId: OID_CERT_BAG,
        bagValue: new pkijs.CertBag({ parsedValue: parseCert(opts.caCertPem) }),
      }),
    ],
  });

  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0, // password-based MAC
      authenticatedSafe: new pkijs.AuthenticatedSafe({
        parsedValue: {
          // The key is already shrouded; the certs get their own encrypted container, as OpenSSL does.
          safeContents: [
            { privacyMode: 0, value: keyContents },
            { privacyMode: 1, value: certContents },
          ],
        },
      }),
    },
  });
  const authSafe = pfx.parsedValue?.authenticatedSafe;
  if (!authSafe) throw new Error('PFX is missing its authenticated safe');
  await authSafe.makeInternalValues({ safeContents: [{}, encryption] }, engine);
  await pfx.makeInternalValues(
    { password, iterations: MAC_ITERATIONS, pbkdf2HashAlgorithm: 'SHA-256', hmacHashAlgorithm: 'SHA-256' },
    engine,
  );
  return Buffer.from(pfx.toSchema().toBER(false));
}
