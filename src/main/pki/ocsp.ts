/**
 * The OCSP responder's core (RFC 6960), without I/O: reads a request, answers each certificate it
 * names from a status lookup, and signs with a delegated responder's key (never the CA's). The request
 * and the signed ResponseData go through pkijs; the signature through node:crypto, like certificates
 * and CRLs. The two fixed envelopes around it (BasicOCSPResponse, OCSPResponse) are written as DER
 * directly, with the responder certificate encoded once: re-encoding it through pkijs for every
 * answer cost more than everything else together.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { AsnConvert } from '@peculiar/asn1-schema';
import type { Algorithm, RevocationReason } from '../../shared/validation';
import { signatureScheme } from './algorithms';
import { REASON_CODES } from './crl';
import { integerContentToHex, TAG, tlv } from './der';
import { keyIdOfSpki, parseCertificate } from './parse';

export type OcspCertStatus =
  | { readonly kind: 'good' }
  | { readonly kind: 'revoked'; readonly revokedAt: Date; readonly reason: RevocationReason }
  | { readonly kind: 'unknown' };

/** OCSPResponseStatus (RFC 6960 §4.2.1) values other than successful. */
export const OCSP_ERROR = {
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  unauthorized: 6,
} as const;
export type OcspErrorStatus = keyof typeof OCSP_ERROR;

/** id-pkix-ocsp-basic, as a DER OBJECT IDENTIFIER. */
const DER_OID_OCSP_BASIC = Buffer.from('06092b0601050507300101', 'hex');
const OID_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';
/** Hashes a CertID may use for the issuer's name and key; openssl and nginx send SHA-1. */
const CERT_ID_HASHES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** More certificates than any verifier asks about at once; bounds the signing work per request. */
export const MAX_CERTS_PER_REQUEST = 16;
/** RFC 8954 §2.1: a nonce is 1 to 32 octets; anything else is refused as malformed. */
const MAX_NONCE_OCTETS = 32;

/** A request the responder refuses as malformedRequest; the message is for logs, never sent. */
export class OcspRequestError extends Error {}

/** The issuer we answer for: its name and key hashed with every CertID hash we accept. */
export interface OcspIssuer {
  readonly certDer: Buffer;
  readonly nameHash: ReadonlyMap<string, Buffer>;
  readonly keyHash: ReadonlyMap<string, Buffer>;
}

export function ocspIssuer(caCert: string | Buffer): OcspIssuer {
  const ca = parseCertificate(caCert);
  const keyBits = Buffer.from(ca.cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
  const nameHash = new Map<string, Buffer>();
  const keyHash = new Map<string, Buffer>();
  for (const [oid, hash] of Object.entries(CERT_ID_HASHES)) {
    // RFC 6960 §4.1.1: the DER of the issuer's Name, and the key's BIT STRING value without tag or length.
    nameHash.set(oid, createHash(hash).update(ca.subjectDer).digest());
    keyHash.set(oid, createHash(hash).update(keyBits).digest());
  }
  return { certDer: ca.der, nameHash, keyHash };
}

/** The delegated signer: its certificate (sent with each response), key and ResponderID. */
export interface OcspSigner {
  readonly certDer: Buffer;
  readonly key: KeyObject;
  readonly algorithm: Algorithm;
  readonly notAfter: Date;
}

/** What every answer reuses, worked out once per responder certificate. */
interface PreparedSigner {
  /** ResponderID byKey (RFC 6960 §4.2.2.3): the SHA-1 of the responder's public key. */
  readonly keyId: ArrayBuffer;
  readonly hash: string;
  readonly algorithmDer: Buffer;
  /** `certs [0] EXPLICIT SEQUENCE OF Certificate` holding the responder certificate. */
  readonly certsDer: Buffer;
}

const prepared = new WeakMap<OcspSigner, PreparedSigner>();

function prepare(signer: OcspSigner): PreparedSigner {
  let p = prepared.get(signer);
  if (!p) {
    const cert = parseCertificate(signer.certDer);
    const scheme = signatureScheme(signer.algorithm);
    p = {
      keyId: toArrayBuffer(keyIdOfSpki(cert.cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)),
      hash: scheme.hash,
      algorithmDer: Buffer.from(AsnConvert.serialize(scheme.algorithmIdentifier)),
      certsDer: tlv(TAG.CONTEXT_0_CONSTRUCTED, tlv(TAG.SEQUENCE, signer.certDer)),
    };
    prepared.set(signer, p);
  }
  return p;
}

export interface OcspQuery {
  readonly certId: pkijs.CertID;
  /** Lowercase hex, as the registry stores it; null when the CertID names another issuer. */
  readonly serial: string | null;
}

export interface ParsedOcspRequest {
  readonly queries: readonly OcspQuery[];
  /** The nonce extension's value, echoed verbatim (RFC 6960 §4.4.1). */
  readonly nonce: ArrayBuffer | null;
}

function octets(view: Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** The CertID's serial if it names a certificate of `issuer`, else null (answered `unknown`). */
function serialFor(certId: pkijs.CertID, issuer: OcspIssuer): string | null {
  const oid = certId.hashAlgorithm.algorithmId;
  const name = issuer.nameHash.get(oid);
  const key = issuer.keyHash.get(oid);
  if (!name || !key) return null;
  if (!octets(certId.issuerNameHash.valueBlock.valueHexView).equals(name)) return null;
  if (!octets(certId.issuerKeyHash.valueBlock.valueHexView).equals(key)) return null;
  const content = certId.serialNumber.valueBlock.valueHexView;
  // A negative serial (high bit set, no padding) is none of ours.
  if (content.length === 0 || (content[0]! & 0x80) !== 0) return null;
  return integerContentToHex(content);
}

function nonceOf(extensions: readonly pkijs.Extension[] | undefined): ArrayBuffer | null {
  const ext = extensions?.find((e) => e.extnID === OID_OCSP_NONCE);
  if (!ext) return null;
  const value = ext.extnValue.valueBlock.valueHexView;
  // The nonce is an OCTET STRING inside extnValue (RFC 8954); some clients put the bare octets there.
  const inner = asn1js.fromBER(value);
  const length =
    inner.offset === value.byteLength && inner.result instanceof asn1js.OctetString
      ? inner.result.valueBlock.valueHexView.byteLength
      : value.byteLength;
  if (length < 1 || length > MAX_NONCE_OCTETS) {
    throw new OcspRequestError(`nonce of ${length} octets (1 to ${MAX_NONCE_OCTETS} allowed)`);
  }
  return new Uint8Array(value).buffer;
}

/** Reads a DER (or BER) OCSPRequest; throws OcspRequestError for anything that is not one. */
export function parseOcspRequest(der: Uint8Array, issuer: OcspIssuer): ParsedOcspRequest {
  const { certIds, nonce } = readOcspRequest(der);
  return { queries: certIds.map((certId) => ({ certId, serial: serialFor(certId, issuer) })), nonce };
}

function readOcspRequest(der: Uint8Array): { certIds: pkijs.CertID[]; nonce: ArrayBuffer | null } {
  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1 || asn1.offset !== der.byteLength) {
    throw new OcspRequestError('not a single ASN.1 structure');
  }
  let request: pkijs.OCSPRequest;
  try {
    request = new pkijs.OCSPRequest({ schema: asn1.result });
  } catch (e) {
    throw new OcspRequestError(`not an OCSPRequest: ${(e as Error).message}`);
  }
  const list = request.tbsRequest.requestList;
  if (list.length === 0) throw new OcspRequestError('no certificate asked about');
  if (list.length > MAX_CERTS_PER_REQUEST) {
    throw new OcspRequestError(
      `${list.length} certificates in one request (at most ${MAX_CERTS_PER_REQUEST})`,
    );
  }
  return {
    certIds: list.map((r) => r.reqCert),
    nonce: nonceOf(request.tbsRequest.requestExtensions),
  };
}

/** GeneralizedTime without fractions: RFC 5280 §4.1.2.5.2 style, which every verifier reads. */
const wholeSeconds = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

function certStatus(status: OcspCertStatus): asn1js.BaseBlock {
  switch (status.kind) {
    case 'good':
      return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 } }); // [0] IMPLICIT NULL
    case 'unknown':
      return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 } }); // [2] IMPLICIT NULL
    case 'revoked': {
      const code = REASON_CODES[status.reason];
      const value: asn1js.BaseBlock[] = [
        new asn1js.GeneralizedTime({ valueDate: wholeSeconds(status.revokedAt) }),
      ];
      // As in the CRL (RFC 5280 §5.3.1), an unspecified reason is left out rather than stated.
      if (code !== 0) {
        value.push(
          new asn1js.Constructed({
            idBlock: { tagClass: 3, tagNumber: 0 },
            value: [new asn1js.Enumerated({ value: code })],
          }),
        );
      }
      return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 1 }, value });
    }
    default: {
      const never: never = status;
      throw new Error(`unknown certificate status ${String(never)}`);
    }
  }
}

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return new Uint8Array(buf).buffer;
}

/**
 * OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
 * ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
 */
function wrap(status: number, basic?: Buffer): Buffer {
  const statusDer = tlv(TAG.ENUMERATED, Buffer.from([status]));
  if (!basic) return tlv(TAG.SEQUENCE, statusDer);
  const bytes = tlv(TAG.SEQUENCE, DER_OID_OCSP_BASIC, tlv(TAG.OCTET_STRING, basic));
  return tlv(TAG.SEQUENCE, statusDer, tlv(TAG.CONTEXT_0_CONSTRUCTED, bytes));
}

/** An unsigned error response (RFC 6960 §2.3): it carries a status and nothing else. */
export function ocspErrorResponse(status: OcspErrorStatus): Buffer {
  return wrap(OCSP_ERROR[status]);
}

/**
 * A signed BasicOCSPResponse, one SingleResponse per query in request order. thisUpdate is now (the
 * status was read from the registry just now); nextUpdate tells caches how long they may keep it.
 */
export function signOcspResponse(opts: {
  signer: OcspSigner;
  answers: readonly { certId: pkijs.CertID; status: OcspCertStatus }[];
  nonce: ArrayBuffer | null;
  now: Date;
  validityMs: number;
}): Buffer {
  const thisUpdate = wholeSeconds(opts.now);
  const nextUpdate = new Date(thisUpdate.getTime() + opts.validityMs);
  const signer = prepare(opts.signer);
  const data = new pkijs.ResponseData({
    responderID: new asn1js.OctetString({ valueHex: signer.keyId }),
    producedAt: thisUpdate,
    responses: opts.answers.map(
      (a) =>
        new pkijs.SingleResponse({
          certID: a.certId,
          certStatus: certStatus(a.status),
          thisUpdate,
          nextUpdate,
        }),
    ),
    ...(opts.nonce
      ? { responseExtensions: [new pkijs.Extension({ extnID: OID_OCSP_NONCE, extnValue: opts.nonce })] }
      : {}),
  });
  const tbs = Buffer.from(data.toSchema(true).toBER(false));
  const signature = sign(signer.hash, tbs, opts.signer.key);
  // BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm, signature BIT STRING, certs [0] }
  const basic = tlv(
    TAG.SEQUENCE,
    tbs,
    signer.algorithmDer,
    tlv(TAG.BIT_STRING, Buffer.from([0]), signature),
    signer.certsDer,
  );
  return wrap(0, basic);
}

/**
 * Answers one request: malformed ones get malformedRequest, every named certificate gets its status
 * (`unknown` for another issuer's or a serial never issued here). Errors of the lookup propagate.
 */
export function answerOcsp(
  requestDer: Uint8Array,
  opts: {
    issuer: OcspIssuer;
    signer: OcspSigner;
    status: (serial: string) => OcspCertStatus;
    now: Date;
    validityMs: number;
  },
): { response: Buffer; malformed?: string } {
  let request: ParsedOcspRequest;
  try {
    request = parseOcspRequest(requestDer, opts.issuer);
  } catch (e) {
    if (e instanceof OcspRequestError)
      return { response: ocspErrorResponse('malformedRequest'), malformed: e.message };
    throw e;
  }
  const answers = request.queries.map((q) => ({
    certId: q.certId,
    status: q.serial === null ? ({ kind: 'unknown' } as const) : opts.status(q.serial),
  }));
  return {
    response: signOcspResponse({
      signer: opts.signer,
      answers,
      nonce: request.nonce,
      now: opts.now,
      validityMs: opts.validityMs,
    }),
  };
}

/** One CA the responder answers for: its identity, its delegated signer and its status lookup. */
export interface OcspAuthority {
  readonly issuer: OcspIssuer;
  readonly signer: OcspSigner;
  readonly status: (serial: string) => OcspCertStatus;
}

/**
 * Answers for several CAs at one URL (a CA rollover): the request's first certificate that names one
 * of `authorities` picks it, and that CA's delegated signer signs the whole response (a signer is
 * authorized for its own CA only, RFC 6960 §4.2.2.2), so certificates of any other issuer in the same
 * request are `unknown`. A request naming none of them is answered by the first, all `unknown`.
 */
export function answerOcspAmong(
  requestDer: Uint8Array,
  opts: { authorities: readonly OcspAuthority[]; now: Date; validityMs: number },
): { response: Buffer; malformed?: string } {
  let request: { certIds: pkijs.CertID[]; nonce: ArrayBuffer | null };
  try {
    request = readOcspRequest(requestDer);
  } catch (e) {
    if (e instanceof OcspRequestError)
      return { response: ocspErrorResponse('malformedRequest'), malformed: e.message };
    throw e;
  }
  const first = opts.authorities[0];
  if (!first) throw new Error('an OCSP responder needs at least one CA');
  const chosen =
    opts.authorities.find((a) => request.certIds.some((id) => serialFor(id, a.issuer) !== null)) ?? first;
  const answers = request.certIds.map((certId) => {
    const serial = serialFor(certId, chosen.issuer);
    return { certId, status: serial === null ? ({ kind: 'unknown' } as const) : chosen.status(serial) };
  });
  return {
    response: signOcspResponse({
      signer: chosen.signer,
      answers,
      nonce: request.nonce,
      now: opts.now,
      validityMs: opts.validityMs,
    }),
  };
}
