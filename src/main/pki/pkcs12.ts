/**
 * PKCS#12 bundles for operators' browsers, curl and every other consumer: OpenSSL 3 (without
 * `-legacy`), GnuTLS, NSS and Java all load them. Modern algorithms only (PBES2 with PBKDF2-HMAC-SHA256
 * and AES-256-CBC, SHA-256 MAC), strict DER, and salts of 16 bytes: GnuTLS refuses salts over 32
 * bytes and BER (constructed) OCTET STRINGs, both of which pkijs's own encryption produces (issue 9).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { certPemToDer } from './info';
import { pbes2Encrypt } from './pbes2';
import { nodeCrypto } from './webcrypto';

const OID_PKCS8_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const OID_X509_CERTIFICATE = '1.2.840.113549.1.9.22.1';
const OID_FRIENDLY_NAME = '1.2.840.113549.1.9.20';
const OID_LOCAL_KEY_ID = '1.2.840.113549.1.9.21';
const OID_DATA = '1.2.840.113549.1.7.1';
const OID_ENCRYPTED_DATA = '1.2.840.113549.1.7.6';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';

/** PBKDF2 runs natively, so a high count is cheap for us and costly for guessers. */
const PBKDF2_ITERATIONS = 100_000;
/** The MAC's PKCS#12 KDF runs in pkijs's JavaScript SHA-256; 2048 is OpenSSL's own default. */
const MAC_ITERATIONS = 2048;
/** Within the 8–16 bytes every reader takes (OpenSSL writes 8, GnuTLS reads at most 32). */
export const MAC_SALT_BYTES = 16;

// A local engine instead of pkijs.setEngine keeps the global crypto engine untouched for other modules.
const engine = new pkijs.CryptoEngine({ name: 'node', crypto: nodeCrypto });

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return new Uint8Array(buf).buffer;
}

function octets(buf: Uint8Array): asn1js.OctetString {
  return new asn1js.OctetString({ valueHex: toArrayBuffer(buf) });
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
    attrs.push(new pkijs.Attribute({ type: OID_LOCAL_KEY_ID, values: [octets(localKeyId)] }));
  }
  return attrs;
}

function certBag(certPem: string, attrs: pkijs.Attribute[]): pkijs.SafeBag {
  return new pkijs.SafeBag({
    bagId: OID_CERT_BAG,
    // x509Certificate holds the DER in a primitive OCTET STRING (RFC 7292 §4.2.3).
    bagValue: new pkijs.CertBag({ certId: OID_X509_CERTIFICATE, certValue: octets(certPemToDer(certPem)) }),
    bagAttributes: attrs,
  });
}

function der(value: { toSchema(): asn1js.BaseBlock }): Buffer {
  return Buffer.from(value.toSchema().toBER(false));
}

export async function buildPkcs12(opts: {
  certPem: string;
  privateKeyPkcs8Der: Buffer;
  caCertPem: string;
  password: string;
  friendlyName: string;
}): Promise<Buffer> {
  // localKeyID ties the key to its certificate; clients use it to pick the pair out of the bag.
  const localKeyId = createHash('sha1').update(certPemToDer(opts.certPem)).digest();

  const shrouded = await pbes2Encrypt(opts.privateKeyPkcs8Der, opts.password, PBKDF2_ITERATIONS);
  const keyContents = new pkijs.SafeContents({
    safeBags: [
      new pkijs.SafeBag({
        bagId: OID_PKCS8_SHROUDED_KEY_BAG,
        bagValue: new pkijs.PKCS8ShroudedKeyBag({
          encryptionAlgorithm: shrouded.algorithm,
          encryptedData: octets(shrouded.ciphertext),
        }),
        bagAttributes: attributes(opts.friendlyName, localKeyId),
      }),
    ],
  });
  const certContents = new pkijs.SafeContents({
    safeBags: [certBag(opts.certPem, attributes(opts.friendlyName, localKeyId)), certBag(opts.caCertPem, [])],
  });
  // The key is already shrouded; the certs get their own encrypted container, as OpenSSL does.
  const sealedCerts = await pbes2Encrypt(der(certContents), opts.password, PBKDF2_ITERATIONS);
  const authenticatedSafe = new pkijs.AuthenticatedSafe({
    safeContents: [
      new pkijs.ContentInfo({ contentType: OID_DATA, content: octets(der(keyContents)) }),
      new pkijs.ContentInfo({
        contentType: OID_ENCRYPTED_DATA,
        content: new pkijs.EncryptedData({
          version: 0,
          encryptedContentInfo: new pkijs.EncryptedContentInfo({
            contentType: OID_DATA,
            contentEncryptionAlgorithm: sealedCerts.algorithm,
            encryptedContent: octets(sealedCerts.ciphertext),
            disableSplit: true,
          }),
        }).toSchema(),
      }),
    ],
  });
  const authSafeDer = der(authenticatedSafe);

  const macSalt = randomBytes(MAC_SALT_BYTES);
  const mac = await engine.stampDataWithPassword({
    password: toArrayBuffer(Buffer.from(opts.password, 'utf8')),
    hashAlgorithm: 'SHA-256',
    salt: toArrayBuffer(macSalt),
    iterationCount: MAC_ITERATIONS,
    contentToStamp: toArrayBuffer(authSafeDer),
  });
  const pfx = new pkijs.PFX({
    version: 3,
    authSafe: new pkijs.ContentInfo({ contentType: OID_DATA, content: octets(authSafeDer) }),
    macData: new pkijs.MacData({
      mac: new pkijs.DigestInfo({
        digestAlgorithm: new pkijs.AlgorithmIdentifier({
          algorithmId: OID_SHA256,
          algorithmParams: new asn1js.Null(),
        }),
        digest: octets(new Uint8Array(mac)),
      }),
      macSalt: octets(macSalt),
      iterations: MAC_ITERATIONS,
    }),
  });
  return der(pfx);
}
