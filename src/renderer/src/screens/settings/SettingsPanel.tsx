import { zodResolver } from '@hookform/resolvers/zod';
import { useState } from 'react';
import { useForm, useWatch } from 'react-hook-form';
import type { GatewayConfig, StatusInfo } from '../../../../shared/model';
import { isLoopbackHost, parseHostPort } from '../../../../shared/validation';
import { call } from '../../api';
import { Field } from '../../components/Field';
import { Progress } from '../../components/Progress';
import { useAction } from '../../lib/useAction';
import { useStatusStore } from '../../stores/status';
import { settingsFormSchema, upstreamHost, type SettingsValues } from './settingsSchema';

function GatewayForm({ config }: { readonly config: GatewayConfig }) {
  const { register, handleSubmit, control, formState, reset } = useForm<SettingsValues>({
    resolver: zodResolver(settingsFormSchema),
    defaultValues: { ...config },
    mode: 'onTouched',
  });
  const { pending, run } = useAction();
  const [saved, setSaved] = useState(false);
  const listen = useWatch({ control, name: 'listen' });
  const upstream = useWatch({ control, name: 'upstream' });
  const allowRemote = useWatch({ control, name: 'allowRemoteUpstream' });
  const listenHost = parseHostPort(listen)?.host;
  const host = upstreamHost(upstream);
  const remoteUpstream = host !== null && !isLoopbackHost(host);

  const submit = handleSubmit(async (values) => {
    setSaved(false);
    const next = await run(() => call('gateway.configure', values));
    if (next) {
      const status = useStatusStore.getState().status;
      if (status)
        useStatusStore.getState().setStatus({ ...status, gateway: { ...status.gateway, config: next } });
      reset({ ...next });
      setSaved(true);
    }
  });

  return (
    <form
      className="card settings-form"
      data-testid="settings-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!pending) void submit(e);
      }}
    >
      <header className="card-head">
        <h3>Gateway</h3>
      </header>
      <div className="row-2">
        <Field label="Listen address" htmlFor="settings-listen" error={formState.errors.listen?.message}>
          <input
            id="settings-listen"
            data-testid="settings-listen"
            autoComplete="off"
            {...register('listen')}
          />
        </Field>
        <Field label="Upstream URL" htmlFor="settings-upstream" error={formState.errors.upstream?.message}>
          <input
            id="settings-upstream"
            data-testid="settings-upstream"
            autoComplete="off"
            {...register('upstream')}
          />
        </Field>
      </div>
      {listenHost !== undefined && !isLoopbackHost(listenHost) ? (
        <p className="notice notice-warn" data-testid="settings-listen-warning">
          {listenHost} is not a loopback address: the gateway will accept TLS handshakes from the network.
        </p>
      ) : null}
      <div className="row-3">
        <Field
          label="Max connections"
          htmlFor="settings-max"
          error={formState.errors.maxConnections?.message}
        >
          <input
            id="settings-max"
            data-testid="settings-max-connections"
            type="number"
            min={1}
            max={10000}
            {...register('maxConnections', { valueAsNumber: true })}
          />
        </Field>
        <Field
          label="Handshake timeout (ms)"
          htmlFor="settings-handshake"
          error={formState.errors.handshakeTimeoutMs?.message}
        >
          <input
            id="settings-handshake"
            data-testid="settings-handshake-timeout"
            type="number"
            min={100}
            step={100}
            {...register('handshakeTimeoutMs', { valueAsNumber: true })}
          />
        </Field>
        <Field
          label="Idle timeout (ms)"
          htmlFor="settings-idle"
          error={formState.errors.idleTimeoutMs?.message}
        >
          <input
            id="settings-idle"
            data-testid="settings-idle-timeout"
            type="number"
            min={1000}
            step={1000}
            {...register('idleTimeoutMs', { valueAsNumber: true })}
          />
        </Field>
      </div>
      <label className={allowRemote ? 'checkbox notice notice-danger' : 'checkbox'}>
        <input
          type="checkbox"
          data-testid="settings-allow-remote-upstream"
          {...register('allowRemoteUpstream')}
        />
        <span>
          <strong>Allow non-loopback upstream.</strong> Proxied requests, with each client's identity headers,
          then leave this machine{remoteUpstream ? ` for ${host}` : ''}. Only for an upstream you control on a
          trusted network.
        </span>
      </label>
      {pending ? <Progress label="Applying…" /> : null}
      <footer className="actions">
        {saved && !formState.isDirty ? (
          <span className="muted small" data-testid="settings-saved">
            Saved.
          </span>
        ) : null}
        <button
          type="button"
          className="btn"
          disabled={!formState.isDirty || pending}
          onClick={() => reset({ ...config })}
        >
          Reset
        </button>
        <button type="submit" className="btn btn-primary" data-testid="settings-save" disabled={pending}>
          Save
        </button>
      </footer>
    </form>
  );
}

function VaultCard({ status }: { readonly status: StatusInfo }) {
  const { backend, note } = status.vault;
  const label =
    backend === 'safeStorage'
      ? 'OS keychain (Electron safeStorage)'
      : backend === 'passphrase'
        ? 'Passphrase (scrypt + AES-256-GCM)'
        : 'none';
  return (
    <section className="card" data-testid="settings-vault">
      <header className="card-head">
        <h3>Key vault</h3>
      </header>
      <dl>
        <div className="kv">
          <dt>Backend</dt>
          <dd data-testid="settings-vault-backend" data-backend={backend ?? ''}>
            {label}
          </dd>
        </div>
        <div className="kv">
          <dt>State directory</dt>
          <dd className="mono">{status.stateDir}</dd>
        </div>
      </dl>
      {note ? (
        <p className="notice notice-warn" data-testid="settings-vault-note">
          {note}
        </p>
      ) : null}
    </section>
  );
}

export function SettingsPanel() {
  const status = useStatusStore((s) => s.status);
  if (!status) return null;
  return (
    <div className="page" data-testid="settings">
      <header className="page-head">
        <h1>Settings</h1>
      </header>
      <GatewayForm config={status.gateway.config} />
      <VaultCard status={status} />
    </div>
  );
}
