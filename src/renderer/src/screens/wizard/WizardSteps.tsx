import { useEffect } from 'react';
import { Controller, useController, useFormContext, useWatch } from 'react-hook-form';
import { ALGORITHMS, isLoopbackHost, type Algorithm } from '../../../../shared/validation';
import { Field } from '../../components/Field';
import { upstreamHost } from '../settings/settingsSchema';
import { HostChips } from './HostChips';
import type { WizardValues } from './schema';

const ALGORITHM_INFO: Record<Algorithm, { label: string; note: string }> = {
  'ecdsa-p256': {
    label: 'ECDSA P-256',
    note: 'Recommended. Fast, small certificates, supported everywhere.',
  },
  'ecdsa-p384': { label: 'ECDSA P-384', note: 'Larger curve for policies that require it.' },
  'rsa-4096': { label: 'RSA 4096', note: 'For legacy peers. Key generation takes several seconds.' },
};

export function AlgorithmStep() {
  const { register, control } = useFormContext<WizardValues>();
  const current = useWatch({ control, name: 'algorithm' });
  return (
    <fieldset className="choice-list" data-testid="wizard-algorithm">
      <legend>Root CA key algorithm (the CA is valid for 10 years)</legend>
      {ALGORITHMS.map((a) => (
        <label key={a} className={current === a ? 'choice choice-selected' : 'choice'}>
          <input type="radio" value={a} data-testid={`wizard-algorithm-${a}`} {...register('algorithm')} />
          <span className="choice-title">{ALGORITHM_INFO[a].label}</span>
          <span className="choice-note">{ALGORITHM_INFO[a].note}</span>
        </label>
      ))}
    </fieldset>
  );
}

export function CaNameStep() {
  const { register, formState } = useFormContext<WizardValues>();
  return (
    <Field label="CA name (subject CN)" htmlFor="wizard-ca-name" error={formState.errors.caName?.message}>
      <input id="wizard-ca-name" data-testid="wizard-ca-name" autoComplete="off" {...register('caName')} />
    </Field>
  );
}

export function ServerStep() {
  const { control, register, formState, setError, clearErrors } = useFormContext<WizardValues>();
  const { field: draft } = useController({ control, name: 'hostDraft' });
  const hostsError = formState.errors.hosts;
  const hostsMessage =
    hostsError?.message ?? (Array.isArray(hostsError) ? 'One of the hosts is not valid' : undefined);
  return (
    <>
      <Field label="Server hosts" htmlFor="wizard-host-input">
        <Controller
          control={control}
          name="hosts"
          render={({ field }) => (
            <HostChips
              value={field.value}
              onChange={field.onChange}
              draft={draft.value}
              onDraftChange={draft.onChange}
              error={hostsMessage}
              onError={(message) =>
                message === null ? clearErrors('hosts') : setError('hosts', { message })
              }
            />
          )}
        />
      </Field>
      <Field
        label="Server certificate validity (days)"
        htmlFor="wizard-server-days"
        error={formState.errors.serverDays?.message}
        hint="90 days is the usual rotation period."
      >
        <input
          id="wizard-server-days"
          data-testid="wizard-server-days"
          type="number"
          min={1}
          max={3650}
          {...register('serverDays', { valueAsNumber: true })}
        />
      </Field>
    </>
  );
}

export function GatewayStep() {
  const { register, formState, control, trigger } = useFormContext<WizardValues>();
  const allowRemote = useWatch({ control, name: 'allowRemoteUpstream' });
  const upstreamRefused = formState.errors.upstream !== undefined;
  // Ticking (or unticking) the choice answers the upstream's message at once, not on the next Next.
  useEffect(() => {
    if (upstreamRefused) void trigger('upstream');
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only when the choice changes
  }, [allowRemote]);
  const upstream = useWatch({ control, name: 'upstream' });
  const host = upstreamHost(upstream);
  const remote = host !== null && !isLoopbackHost(host);
  return (
    <>
      <Field
        label="Gateway listen address"
        htmlFor="wizard-listen"
        error={formState.errors.listen?.message}
        hint="HOST:PORT. A non-loopback address exposes the gateway to the network."
      >
        <input id="wizard-listen" data-testid="wizard-listen" autoComplete="off" {...register('listen')} />
      </Field>
      <Field
        label="Upstream URL"
        htmlFor="wizard-upstream"
        error={formState.errors.upstream?.message}
        hint="The loopback service the gateway protects."
      >
        <input
          id="wizard-upstream"
          data-testid="wizard-upstream"
          autoComplete="off"
          {...register('upstream')}
        />
      </Field>
      <label className={allowRemote ? 'checkbox notice notice-danger' : 'checkbox'}>
        <input
          type="checkbox"
          data-testid="wizard-allow-remote-upstream"
          {...register('allowRemoteUpstream')}
        />
        <span>
          <strong>Allow non-loopback upstream.</strong> Proxied requests, with each client&apos;s identity
          headers, then leave this machine{remote ? ` for ${host}` : ''}. Only for an upstream you control on
          a trusted network.
        </span>
      </label>
    </>
  );
}

export function VaultStep({ keyringNote }: { readonly keyringNote: string | undefined }) {
  const { register, control, formState } = useFormContext<WizardValues>();
  const vault = useWatch({ control, name: 'vault' });
  const safeDisabled = keyringNote !== undefined;
  return (
    <>
      <fieldset className="choice-list">
        <legend>How private keys are sealed at rest</legend>
        <label
          className={[
            vault === 'safeStorage' ? 'choice choice-selected' : 'choice',
            safeDisabled ? 'choice-disabled' : '',
          ].join(' ')}
        >
          <input
            type="radio"
            value="safeStorage"
            disabled={safeDisabled}
            data-testid="wizard-vault-safestorage"
            {...register('vault')}
          />
          <span className="choice-title">OS keychain (safeStorage)</span>
          <span className="choice-note">Unlocked with your desktop session.</span>
        </label>
        <label className={vault === 'passphrase' ? 'choice choice-selected' : 'choice'}>
          <input
            type="radio"
            value="passphrase"
            data-testid="wizard-vault-passphrase"
            {...register('vault')}
          />
          <span className="choice-title">Passphrase</span>
          <span className="choice-note">scrypt + AES-256-GCM. Asked when the app starts.</span>
        </label>
      </fieldset>
      {keyringNote ? (
        <p className="notice notice-warn" data-testid="wizard-vault-note">
          {keyringNote}
        </p>
      ) : null}
      {vault === 'passphrase' ? (
        <>
          <Field
            label="Passphrase"
            htmlFor="wizard-passphrase"
            error={formState.errors.passphrase?.message}
            hint="At least 12 characters."
          >
            <input
              id="wizard-passphrase"
              data-testid="wizard-passphrase"
              type="password"
              autoComplete="new-password"
              {...register('passphrase')}
            />
          </Field>
          <Field
            label="Confirm passphrase"
            htmlFor="wizard-passphrase-confirm"
            error={formState.errors.passphraseConfirm?.message}
          >
            <input
              id="wizard-passphrase-confirm"
              data-testid="wizard-passphrase-confirm"
              type="password"
              autoComplete="new-password"
              {...register('passphraseConfirm')}
            />
          </Field>
        </>
      ) : null}
    </>
  );
}

export function ReviewStep() {
  const { getValues } = useFormContext<WizardValues>();
  const v = getValues();
  const rows: [string, string][] = [
    ['Algorithm', ALGORITHM_INFO[v.algorithm].label],
    ['CA name', v.caName],
    ['CA validity', '10 years'],
    ['Server hosts', v.hosts.join(', ')],
    ['Server validity', `${v.serverDays} days`],
    ['Gateway listen', v.listen],
    ['Upstream', v.allowRemoteUpstream ? `${v.upstream} (non-loopback allowed)` : v.upstream],
    ['Vault', v.vault === 'passphrase' ? 'Passphrase' : 'OS keychain (safeStorage)'],
  ];
  return (
    <dl className="review" data-testid="wizard-review">
      {rows.map(([k, val]) => (
        <div key={k} className="review-row">
          <dt>{k}</dt>
          <dd>{val}</dd>
        </div>
      ))}
    </dl>
  );
}
