import { ERROR_CODES, type ErrorCode } from '../shared/errors';

/** The one error type main throws; front doors (IPC, CLI) map `code` to their answer without stack traces. */
export class ConsoleError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ConsoleError';
  }
}

export function isConsoleError(e: unknown): e is ConsoleError {
  if (e instanceof ConsoleError) return true;
  // A second copy of this module (bundled main vs. tsx CLI) breaks instanceof, so also accept the shape.
  return (
    e instanceof Error &&
    e.name === 'ConsoleError' &&
    (ERROR_CODES as readonly unknown[]).includes((e as { code?: unknown }).code)
  );
}
