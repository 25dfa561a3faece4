import { z } from 'zod';
import { caInitInputSchema, gatewaySettingsSchema, type CallInput } from '../../../../shared/contract';
import { DEFAULT_GATEWAY_CONFIG } from '../../../../shared/model';
import { classifyHost, isLoopbackHost } from '../../../../shared/validation';
import { upstreamHost } from '../settings/settingsSchema';

/**
 * The wizard's form: the fields of `ca.init` (their shared schemas reused), plus the passphrase
 * confirmation that only the form needs.
 */
const shape = caInitInputSchema.shape;

export const wizardSchema = z
  .object({
    algorithm: shape.algorithm,
    caName: shape.caName,
    hosts: shape.hosts,
    serverDays: shape.serverDays,
    listen: gatewaySettingsSchema.shape.listen,
    upstream: gatewaySettingsSchema.shape.upstream,
    /** The explicit choice Settings asks for too (DESIGN.md §8): without it the gateway would refuse to start. */
    allowRemoteUpstream: z.boolean(),
    /** What is typed in the host box but not added yet: added on Next, or refused there (never dropped). */
    hostDraft: z.string(),
    vault: shape.vault,
    passphrase: z.string(),
    passphraseConfirm: z.string(),
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
    if (v.vault !== 'passphrase') return;
    if (v.passphrase.length < 12) {
      ctx.addIssue({ code: 'custom', path: ['passphrase'], message: 'Use at least 12 characters' });
    } else if (v.passphrase !== v.passphraseConfirm) {
      ctx.addIssue({ code: 'custom', path: ['passphraseConfirm'], message: 'The two passphrases differ' });
    }
  });

export type WizardValues = z.input<typeof wizardSchema>;

export const WIZARD_DEFAULTS: WizardValues = {
  algorithm: 'ecdsa-p256',
  caName: 'mtls-console CA',
  hosts: ['localhost', '127.0.0.1'],
  serverDays: 90,
  listen: DEFAULT_GATEWAY_CONFIG.listen,
  upstream: DEFAULT_GATEWAY_CONFIG.upstream,
  allowRemoteUpstream: false,
  hostDraft: '',
  vault: 'safeStorage',
  passphrase: '',
  passphraseConfirm: '',
};

export function toInitInput(v: WizardValues): CallInput<'ca.init'> {
  return {
    algorithm: v.algorithm,
    caName: v.caName.trim(),
    hosts: v.hosts,
    serverDays: v.serverDays,
    gateway: {
      listen: v.listen.trim(),
      upstream: v.upstream.trim(),
      ...(v.allowRemoteUpstream ? { allowRemoteUpstream: true } : {}),
    },
    vault: v.vault,
    ...(v.vault === 'passphrase' ? { passphrase: v.passphrase } : {}),
  };
}

export interface WizardStep {
  readonly id: string;
  readonly title: string;
  readonly fields: readonly (keyof WizardValues)[];
}

export const WIZARD_STEPS: readonly WizardStep[] = [
  { id: 'algorithm', title: 'Key algorithm', fields: ['algorithm'] },
  { id: 'ca', title: 'CA name', fields: ['caName'] },
  { id: 'server', title: 'Server certificate', fields: ['hosts', 'serverDays'] },
  { id: 'gateway', title: 'Gateway', fields: ['listen', 'upstream'] },
  { id: 'vault', title: 'Key vault', fields: ['vault', 'passphrase', 'passphraseConfirm'] },
  { id: 'review', title: 'Review', fields: [] },
];

/**
 * Hosts typed into the box: separated by commas or new lines (a space is not a separator, so
 * `bad host` is one bad name, not two), each a DNS name or an IP address. Adds the new ones to
 * `current` (case-insensitive), or says which entry is wrong.
 */
export function addHosts(
  current: readonly string[],
  text: string,
): { readonly hosts: string[] } | { readonly error: string } {
  const entries = text
    .split(/[,\n]+/)
    .map((h) => h.trim())
    .filter((h) => h !== '');
  const bad = entries.find((h) => classifyHost(h) === null);
  if (bad !== undefined)
    return {
      error: /\s/.test(bad)
        ? `"${bad}" is not a host name (no spaces; separate hosts with commas)`
        : `"${bad}" is not a valid DNS name or IP address`,
    };
  const hosts = [...current];
  for (const h of entries) if (!hosts.some((x) => x.toLowerCase() === h.toLowerCase())) hosts.push(h);
  return { hosts };
}
