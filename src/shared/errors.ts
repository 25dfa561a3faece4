/** Error codes that cross every boundary (IPC, CLI exit codes, e2e bridge). */
export const ERROR_CODES = [
  'INVALID_INPUT', // bad usage or a value that fails validation: CLI exit 2
  'NOT_INITIALIZED', // no CA in the state dir yet
  'ALREADY_EXISTS', // would overwrite a CA or an exported file
  'NOT_FOUND', // unknown serial, connection id…
  'VAULT_LOCKED', // wrong or missing passphrase
  'CORRUPT_STATE', // a state file failed validation; the message names the file
  'CA_EXPIRED', // the CA certificate is past its notAfter and can sign nothing
  'GATEWAY', // the gateway could not start or answer
  'IO', // the filesystem refused
  'FORBIDDEN', // IPC sender or channel not allowed; a renewal the policy refuses
  'RATE_LIMITED', // asked again too soon (a renewal within a minute of the last): retry later, HTTP 429
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
}

export type Result<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ErrorInfo };
