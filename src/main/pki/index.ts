/** Public surface of the PKI core: keys, certificates, CRLs and PKCS#12, on Node's crypto only. */
export type { Algorithm } from '../../shared/validation';
export {
  algorithmOfCert,
  exportPrivateKeyPkcs8Der,
  generateKeyPair,
  importPrivateKey,
  privateKeyPem,
  type KeyPair,
} from './keys';
export { randomSerial } from './serial';
export { createCa, issueClientCert, issueServerCert, type IssuedCert, type SigningCa } from './certs';
export { certDerToPem, certPemToDer, summarizeCert, type CertSummary } from './info';
export { buildCrl, crlDerToPem, parseCrlSerials, type CrlEntry } from './crl';
export { buildPkcs12 } from './pkcs12';
export { pemToDer } from './pem';
