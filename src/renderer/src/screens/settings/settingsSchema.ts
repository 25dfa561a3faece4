import type { z } from 'zod';
import { gatewaySettingsSchema } from '../../../../shared/contract';
import { isLoopbackHost } from '../../../../shared/validation';

/** Host of an upstream URL, or null when it does not parse. */
export function upstreamHost(url: string): string | null {
  try {
    return new URL(url).hostname;
  } catch {
    return null;
  }
}

/**
 * `gateway.configure`'s schema, plus the rule the operator must opt out of explicitly: the upstream
 * is a loopback URL unless "allow non-loopback upstream" is ticked (DESIGN.md §8).
 */
export const settingsFormSchema = gatewaySettingsSchema.superRefine((v, ctx) => {
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
