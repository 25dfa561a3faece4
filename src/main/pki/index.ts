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
export {
  createCa,
  crossCertifyCa,
  issueClientCert,
  issueClientCertForKey,
  issueOcspResponderCert,
  issueServerCert,
  type DistributionUrls,
  type IssuedCert,
  type SigningCa,
} from './certs';
export { certDerToPem, certPemToDer, summarizeCert, type CertSummary } from './info';
export { buildCrl, crlDerToPem, parseCrlSerials, type CrlEntry } from './crl';
export { buildPkcs12 } from './pkcs12';
export {
  answerOcsp,
  answerOcspAmong,
  ocspErrorResponse,
  ocspIssuer,
  type OcspAuthority,
  type OcspCertStatus,
  type OcspIssuer,
  type OcspSigner,
} from './ocsp';
export { CsrError, MAX_CSR_BYTES, parseCsr, type CheckedCsr } from './csr';
export { BackupError, MAX_BACKUP_BYTES, readCaBackup, writeCaBackup, type CaBackup } from './pkcs8-backup';
export { pemToDer } from './pem';
