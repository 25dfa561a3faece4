/**
 * Header names the gateway frames or sets itself, so never an upstream credential (issue 11 §3).
 * Zod-free: the gateway child's message checks (gateway/wire.ts) use it as the schemas do.
 */
export const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-client-cert',
  'x-client-cert-serial',
  'client-cert',
]);
