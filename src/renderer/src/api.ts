import type { CallInput, CallName, CallResult } from '../../shared/contract';
import type { ErrorCode, Result } from '../../shared/errors';

/** A failed call, carrying main's code and message unchanged (the message is what the operator sees). */
export class CallError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CallError';
  }
}

/** Calls main through the preload bridge; resolves with the value or rejects with a CallError. */
export async function call<C extends CallName>(name: C, input: CallInput<C>): Promise<CallResult<C>> {
  // The mapped type cannot be narrowed by a generic key; this is the signature MtlsCalls declares.
  const fn = window.mtls.call[name] as unknown as (i: CallInput<C>) => Promise<Result<CallResult<C>>>;
  const result = await fn(input);
  if (!result.ok) throw new CallError(result.error.code, result.error.message);
  return result.value;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
