/**
 * The client side of a rekey (issue 9, `mtls-console renew --rekey`): a fresh key of the same kind as
 * the certificate's, and a PKCS#10 request (RFC 2986) signed with it, proving possession to the CA.
 */
import type { KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { derToPem } from './pem';
import { nodeCrypto, subtle } from './webcrypto';

const OID_COMMON_NAME = '2.5.4.3';

/** WebCrypto parameters of a key like `like` (a certificate's public key): same curve, or same RSA size. */
function paramsLike(like: KeyObject): { gen: RsaHashedKeyGenParams | EcKeyGenParams; hash: string } {
  const d = like.asymmetricKeyDetails ?? {};
  if (like.asymmetricKeyType === 'ec') {
    if (d.namedCurve === 'prime256v1')
      return { gen: { name: 'ECDSA', namedCurve: 'P-256' }, hash: 'SHA-256' };
    if (d.namedCurve === 'secp384r1') return { gen: { name: 'ECDSA', namedCurve: 'P-384' }, hash: 'SHA-384' };
    throw new Error(
      `the certificate's key is on curve ${d.namedCurve ?? '(unknown)'}; only P-256 and P-384 can be rekeyed`,
    );
  }
  if (like.asymmetricKeyType === 'rsa' && d.modulusLength !== undefined) {
    return {
      gen: {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: d.modulusLength,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      hash: 'SHA-256',
    };
  }
  throw new Error(`the certificate's key type ${like.asymmetricKeyType ?? '(unknown)'} cannot be rekeyed`);
}

/**
 * A new key pair like `like` and a CSR for it. The subject (`commonName`) is a courtesy: the console
 * replaces it with the name it knows. The key is returned as PKCS#8 PEM, for a 0600 file.
 */
export async function makeKeyAndCsr(
  like: KeyObject,
  commonName: string,
): Promise<{ keyPem: string; csrDer: Buffer }> {
  const { gen, hash } = paramsLike(like);
  const keys = (await subtle.generateKey(gen, true, ['sign', 'verify'])) as CryptoKeyPair;
  const engine = new pkijs.CryptoEngine({ name: 'node', crypto: nodeCrypto });
  const csr = new pkijs.CertificationRequest();
  csr.version = 0;
  csr.subject.typesAndValues.push(
    new pkijs.AttributeTypeAndValue({
      type: OID_COMMON_NAME,
      value: new asn1js.Utf8String({ value: commonName }),
    }),
  );
  await csr.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  await csr.sign(keys.privateKey, hash, engine);
  const csrDer = Buffer.from(csr.toSchema(true).toBER(false));
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  return { keyPem: derToPem(pkcs8, 'PRIVATE KEY'), csrDer };
}
