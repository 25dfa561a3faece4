import { z } from 'zod';
import { ConsoleError } from '../errors';

export type VaultBackend = 'passphrase' | 'safeStorage';

export interface Vault {
  readonly backend: VaultBackend;
  seal(plain: Buffer): Promise<Buffer>;
  /** `source` (e.g. the file the sealed bytes came from) is only used to name it in errors. */
  unseal(sealed: Buffer, source?: string): Promise<Buffer>;
}

export const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const b64 = z.string().regex(B64_RE, 'must be base64');

export const headerSchema = z.object({ v: z.literal(1), backend: z.enum(['passphrase', 'safeStorage']) });

export const passphraseSealSchema = z.object({
  v: z.literal(1),
  backend: z.literal('passphrase'),
  kdf: z.literal('scrypt'),
  // Bounded so a crafted file cannot make us allocate gigabytes.
  N: z
    .number()
    .int()
    .min(2 ** 14)
    .max(2 ** 20)
    .refine((n) => (n & (n - 1)) === 0, 'must be a power of two'),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
  salt: b64,
  iv: b64,
  tag: b64,
  ct: b64,
});
export type PassphraseSeal = z.infer<typeof passphraseSealSchema>;

export const safeStorageSealSchema = z.object({
  v: z.literal(1),
  backend: z.literal('safeStorage'),
  ct: b64,
});

function describe(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid value';
  return `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`;
}

/** Parses a sealed blob against `schema`; CORRUPT_STATE names `source` when given. */
export function parseSealed<T>(sealed: Buffer, schema: z.ZodType<T>, source?: string): T {
  const what = source ? `sealed key ${source}` : 'sealed key';
  let raw: unknown;
  try {
    raw = JSON.parse(sealed.toString('utf8'));
  } catch {
    throw new ConsoleError('CORRUPT_STATE', `${what} is corrupt: not a sealed-key JSON document`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new ConsoleError('CORRUPT_STATE', `${what} is corrupt: ${describe(parsed.error)}`);
  return parsed.data;
}

export function sealedBackendOf(sealed: Buffer, source?: string): VaultBackend {
  return parseSealed(sealed, headerSchema, source).backend;
}
