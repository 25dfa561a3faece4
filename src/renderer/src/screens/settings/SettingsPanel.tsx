import { zodResolver } from '@hookform/resolvers/zod';
import { useState, type InputHTMLAttributes } from 'react';
import { useForm, useWatch } from 'react-hook-form';
import type { GatewayConfig, GatewayConfigured, StatusInfo } from '../../../../shared/model';
import { isLoopbackHost, parseHostPort } from '../../../../shared/validation';
import { call } from '../../api';
import { Field } from '../../components/Field';
import { Progress } from '../../components/Progress';
import { useAction } from '../../lib/useAction';
import { useStatusStore } from '../../stores/status';
import { AccessRulesCard } from './AccessRulesCard';
import {
  configureInput,
  formValues,
  settingsFormSchema,
  upstreamHost,
  type SettingsValues,
} from './settingsSchema';

/** A labelled number input; `rest` is what react-hook-form's register() returns, plus bounds. */
function NumberField({
  label,
  id,
  testId,
  error,
  ...rest
}: {
  readonly label: string;
  readonly id: string;
  readonly testId: string;
  readonly error: string | undefined;
} & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <Field label={label} htmlFor={id} {...(error !== undefined ? { error } : {})}>
      <input id={id} data-testid={testId} type="number" {...rest} />
    </Field>
  );
}

function GatewayForm({ config }: { readonly config: GatewayConfig }) {
  const { register, handleSubmit, control, formState, reset } = useForm<SettingsValues>({
    resolver: zodResolver(settingsFormSchema),
    defaultValues: formValues(config),
    mode: 'onTouched',
  });
  const { pending, run } = useAction();
  const [saved, setSaved] = useState<GatewayConfigured | null>(null);
  const running = useStatusStore((s) => s.status?.gateway.state.kind === 'running');
  const listen = useWatch({ control, name: 'listen' });
  const upstream = useWatch({ control, name: 'upstream' });
  const allowRemote = useWatch({ control, name: 'allowRemoteUpstream' });
  const listenHost = parseHostPort(listen)?.host;
  const host = upstreamHost(upstream);
  const remoteUpstream = host !== null && !isLoopbackHost(host);

  const submit = handleSubmit(async (values) => {
    setSaved(null);
    const next = await run(() => call('gateway.configure', configureInput(values)));
    if (next) {
      const { restartNeeded, ...config } = next;
      void restartNeeded;
      const status = useStatusStore.getState().status;
      if (status) useStatusStore.getState().setStatus({ ...status, gateway: { ...status.gateway, config } });
      reset(formValues(config));
      setSaved(next);
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
        <NumberField
          label="Max connections"
          id="settings-max"
          testId="settings-max-connections"
          error={formState.errors.maxConnections?.message}
          min={1}
          max={10000}
          {...register('maxConnections', { valueAsNumber: true })}
        />
        <NumberField
          label="Handshake timeout (ms)"
          id="settings-handshake"
          testId="settings-handshake-timeout"
          error={formState.errors.handshakeTimeoutMs?.message}
          min={100}
          step={100}
          {...register('handshakeTimeoutMs', { valueAsNumber: true })}
        />
        <NumberField
          label="Idle timeout (ms)"
          id="settings-idle"
          testId="settings-idle-timeout"
          error={formState.errors.idleTimeoutMs?.message}
          min={1000}
          step={1000}
          {...register('idleTimeoutMs', { valueAsNumber: true })}
        />
      </div>
      <div className="row-2">
        <NumberField
          label="Connections per certificate"
          id="settings-per-identity"
          testId="settings-max-per-identity"
          error={formState.errors.maxConnectionsPerIdentity?.message}
          min={1}
          max={10000}
          {...register('maxConnectionsPerIdentity', { valueAsNumber: true })}
        />
        <Field
          label="Also strip these request headers"
          htmlFor="settings-strip"
          error={formState.errors.stripHeadersText?.message}
        >
          <input
            id="settings-strip"
            data-testid="settings-strip-headers"
            autoComplete="off"
            placeholder="e.g. X-Auth-User, X-Internal-*"
            {...register('stripHeadersText')}
          />
        </Field>
      </div>
      <p className="muted small">
        Identity headers a client sends (Forwarded, X-Forwarded-*, Client-Cert, X-SSL-Client-*, X-Remote-User
        and the like, with <code>_</code> read as <code>-</code>) are always removed before the gateway sets
        its own.
      </p>
      <label className="checkbox">
        <input type="checkbox" data-testid="settings-client-cert-header" {...register('clientCertHeader')} />
        <span>
          Send the client certificate as <code>Client-Cert</code> (RFC 9440).
        </span>
      </label>
      <label className="checkbox">
        <input type="checkbox" data-testid="settings-xfcc-cert" {...register('xfccCert')} />
        <span>
          Put the client certificate into <code>X-Forwarded-Client-Cert</code> as <code>Cert=</code> (Envoy).
        </span>
      </label>
      <label className="checkbox">
        <input type="checkbox" data-testid="settings-rewrite-origin" {...register('rewriteOrigin')} />
        <span>
          Present a browser&apos;s <code>Origin</code> on this gateway&apos;s address as the upstream&apos;s
          own (for upstreams whose CSRF guard wants a localhost Origin). Other origins pass unchanged.
        </span>
      </label>
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
          <span className="muted small" data-testid="settings-saved" role="status">
            {saved.restartNeeded.includes('listen')
              ? 'Saved. Applied to the running gateway, except the listen address: it applies after Stop and Start.'
              : running
                ? 'Saved; the running gateway uses it now.'
                : 'Saved.'}
          </span>
        ) : null}
        <button
          type="button"
          className="btn"
          disabled={!formState.isDirty || pending}
          onClick={() => reset(formValues(config))}
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

/** Agents managing this CA over MCP right now (`mtls-console mcp`), and what each may do. */
function McpCard({ status }: { readonly status: StatusInfo }) {
  const servers = status.mcpServers ?? [];
  return (
    <section className="card" data-testid="settings-mcp">
      <header className="card-head">
        <h3>Agents over MCP</h3>
      </header>
      {servers.length === 0 ? (
        <p className="muted small">
          No <code>mtls-console mcp</code> server is running on this state directory.
        </p>
      ) : (
        <table className="table" data-testid="mcp-servers">
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">May</th>
              <th scope="col">Bundles to</th>
              <th scope="col">Process</th>
            </tr>
          </thead>
          <tbody>
            {servers.map((m) => (
              <tr key={`${m.hostname}:${m.pid}`}>
                <td className="mono">mcp:{m.client}</td>
                <td>{m.allow.length === 0 ? 'read only' : `read, ${m.allow.join(', ')}`}</td>
                <td className="mono">{m.bundleDir ?? '—'}</td>
                <td className="mono">
                  {m.hostname} pid {m.pid}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
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

/** Whether the app starts the gateway when it launches (issue 10); saved in the state, audited. */
function LaunchCard({ status }: { readonly status: StatusInfo }) {
  const { pending, run } = useAction();
  // What the operator just chose, shown until main's answer (the box never flips back meanwhile).
  const [chosen, setChosen] = useState<boolean | null>(null);
  const on = chosen ?? status.autoStart === true;
  const passphrase = status.vault.backend === 'passphrase';
  return (
    <section className="card" data-testid="settings-launch">
      <header className="card-head">
        <h3>On launch</h3>
      </header>
      <label className="checkbox">
        <input
          type="checkbox"
          data-testid="settings-auto-start"
          checked={on}
          disabled={pending}
          aria-describedby="settings-auto-start-hint"
          onChange={(e) => {
            const enabled = e.target.checked;
            setChosen(enabled);
            void run(() => call('settings.autoStart', { enabled })).then((next) => {
              if (next) useStatusStore.getState().setStatus(next);
              setChosen(null);
            });
          }}
        />
        <span>Start the gateway when the app launches</span>
      </label>
      <p id="settings-auto-start-hint" className="muted small">
        {passphrase
          ? 'With a passphrase vault it starts once you unlock the vault.'
          : 'It starts with the saved settings, before any window is used.'}{' '}
        Each change is recorded in the audit trail.
      </p>
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
      <LaunchCard status={status} />
      <AccessRulesCard config={status.gateway.config} />
      <McpCard status={status} />
      <VaultCard status={status} />
    </div>
  );
}
