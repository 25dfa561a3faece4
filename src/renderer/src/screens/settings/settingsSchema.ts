import { z } from 'zod';
import { gatewaySettingsSchema, stripHeaderNameSchema, type CallInput } from '../../../../shared/contract';
import type { GatewayConfig } from '../../../../shared/model';
import { isLoopbackHost } from '../../../../shared/validation';

/** Host of an upstream URL, or null when it does not parse. */
export function upstreamHost(url: string): string | null {
  try {
    return new URL(url).hostname;
  } catch {
    return null;
  }
}

/** Words typed into one box, separated by commas, spaces or new lines. */
export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * `gateway.configure`'s schema with the extra strip names as one text box, plus the rule the
 * operator must opt out of explicitly: the upstream is a loopback URL unless "allow non-loopback
 * upstream" is ticked (DESIGN.md §8).
 */
export const settingsFormSchema = gatewaySettingsSchema
  .omit({ stripHeaders: true })
  .extend({
    maxConnectionsPerIdentity: z
      .number({ error: 'enter a whole number' })
      .int('enter a whole number')
      .min(1, 'at least 1')
      .max(10_000, 'at most 10,000'),
    stripHeadersText: z.string().superRefine((text, ctx) => {
      for (const name of splitList(text)) {
        if (!stripHeaderNameSchema.safeParse(name).success) {
          ctx.addIssue({
            code: 'custom',
            message: `"${name.slice(0, 40)}" is not a header name (letters, digits, - and _, optionally ending in *)`,
          });
          return;
        }
      }
    }),
  })
  .superRefine((v, ctx) => {
    const host = upstreamHost(v.upstream);
    if (host !== null && !v.allowRemoteUpstream && !isLoopbackHost(host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstream'],
        message: `${host} is not a loopback address; tick "Allow non-loopback upstream" to proxy to it`,
      });
    }
  });

export type SettingsValues = z.input<typeof settingsFormSchema>;

export function formValues(config: GatewayConfig): SettingsValues {
  const { stripHeaders, ...rest } = config;
  return { ...rest, stripHeadersText: stripHeaders.join(', ') };
}

export function configureInput(values: SettingsValues): CallInput<'gateway.configure'> {
  const { stripHeadersText, ...rest } = values;
  return { ...rest, stripHeaders: splitList(stripHeadersText) };
}
