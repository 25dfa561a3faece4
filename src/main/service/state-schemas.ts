import { z } from 'zod';
import { ALGORITHMS, REVOCATION_REASONS } from '../../shared/validation';

/** zod schemas for every JSON file of the state dir; each is checked on every read. */

const hex = z.string().regex(/^[0-9a-f]+$/);
const isoDate = z.string().datetime({ offset: true });

export const metaSchema = z.object({
  v: z.literal(1),
  algorithm: z.enum(ALGORITHMS),
  vaultBackend: z.enum(['passphrase', 'safeStorage']),
  createdAt: isoDate,
  caName: z.string(),
  serverHosts: z.array(z.string()).min(1),
  serverDays: z.number().int().positive(),
});
export type Meta = z.infer<typeof metaSchema>;

export const serverFileSchema = z.object({
  v: z.literal(1),
  certPem: z.string().includes('BEGIN CERTIFICATE'),
  /** The sealed PKCS#8 key, base64 of the vault's output. */
  sealedKey: z.string().min(1),
});
export type ServerFile = z.infer<typeof serverFileSchema>;

export const registryEntrySchema = z.object({
  serial: hex,
  name: z.string(),
  notBefore: isoDate,
  notAfter: isoDate,
  fingerprintSha256: hex,
  issuedAt: isoDate,
});
export type RegistryEntry = z.infer<typeof registryEntrySchema>;

export const registrySchema = z.object({ v: z.literal(1), certs: z.array(registryEntrySchema) });
export type Registry = z.infer<typeof registrySchema>;

export const revocationEntrySchema = z.object({
  serial: hex,
  revokedAt: isoDate,
  reason: z.enum(REVOCATION_REASONS),
});
export type RevocationEntry = z.infer<typeof revocationEntrySchema>;

export const revocationsSchema = z.object({
  v: z.literal(1),
  /** The number of the last CRL published, as a decimal string (RFC 5280 allows up to 20 octets). */
  crlNumber: z.string().regex(/^\d+$/),
  entries: z.array(revocationEntrySchema),
});
export type Revocations = z.infer<typeof revocationsSchema>;

export const gatewayConfigSchema = z.object({
  listen: z.string(),
  upstream: z.string(),
  maxConnections: z.number().int().positive(),
  handshakeTimeoutMs: z.number().int().positive(),
  idleTimeoutMs: z.number().int().positive(),
  allowRemoteUpstream: z.boolean(),
});
