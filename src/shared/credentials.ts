import { z } from 'zod';
import { RESERVED_HEADER_NAMES as RESERVED } from './reserved-headers';

/**
 * Upstream credentials (issue 11 §3): headers the gateway adds to every proxied request, replacing
 * whatever a client sent under the same name, so that clients never need the upstream's token.
 */

export const upstreamCredentialNameSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'a header name: letters, digits, - and _')
  .refine((n) => !RESERVED.has(n.toLowerCase().replace(/_/g, '-')), {
    message: 'the gateway sets or frames this header itself',
  });

/** A field value (RFC 9110 §5.5): visible characters, spaces and tabs; no CR, LF or NUL. */
export const upstreamCredentialValueSchema = z
  .string()
  .min(1, 'the value is empty')
  .max(8192)
  .regex(/^[\t\x20-\x7e]+$/, 'the value has a line break, a control or a non-ASCII character')
  .refine((v) => v.trim() === v, 'the value starts or ends with white space');

export const upstreamCredentialInputSchema = z
  .object({
    name: upstreamCredentialNameSchema,
    value: upstreamCredentialValueSchema,
    /** Only for these methods (e.g. the CSRF header on mutating calls); absent: every request. */
    methods: z
      .array(
        z
          .string()
          .trim()
          .transform((m) => m.toUpperCase())
          .pipe(z.string().regex(/^[A-Z]{1,20}$/, 'a method is a word like POST')),
      )
      .max(16)
      .optional(),
  })
  .strict();

export type UpstreamCredentialInput = z.output<typeof upstreamCredentialInputSchema>;

/** What anyone may see: never the value. */
export interface UpstreamCredentialInfo {
  readonly name: string;
  readonly methods?: readonly string[];
  readonly setAt: string;
}
