import { z } from 'zod';
import { caInitInputSchema, gatewaySettingsSchema, type CallInput } from '../../../../shared/contract';
import { DEFAULT_GATEWAY_CONFIG } from '../../../../shared/model';

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
    vault: shape.vault,
    passphrase: z.string(),
    passphraseConfirm: z.string(),
  })
  .superRefine((v, ctx) => {
    if (v.vault !== 'passphrase') return;
    if (v.passphrase.length < 12) {
      ctx.addIssue({ code: 'custom', path: ['passphrase'], message: 'at least 12 characters' });
    } else if (v.passphrase !== v.passphraseConfirm) {
      ctx.addIssue({ code: 'custom', path: ['passphraseConfirm'], message: 'the two passphrases differ' });
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
    gateway: { listen: v.listen.trim(), upstream: v.upstream.trim() },
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
