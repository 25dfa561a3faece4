import { createPrivateKey } from 'node:crypto';
import { createAuditSigner, type AuditSigner } from '../audit';

/** Signs audit checkpoints with the CA key: anyone holding ca.crt can check them, no passphrase needed. */
export function caAuditSigner(caKeyPkcs8Der: Buffer, caCertPem: string): AuditSigner {
  return createAuditSigner(createPrivateKey({ key: caKeyPkcs8Der, format: 'der', type: 'pkcs8' }), caCertPem);
}
