import type { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import { isConsoleError } from '../errors';
import type { GatewayState, StatusInfo } from '../../shared/model';
import { readSetting } from './state';

/** The app's own settings (settings key `app`): whether it starts the gateway when it launches. */
export const APP_SETTING_KEY = 'app';
const appSettingsSchema = z.object({ autoStart: z.boolean() }).strict();
export type AppSettings = z.infer<typeof appSettingsSchema>;

export function readAppSettings(db: DatabaseSync): AppSettings {
  const stored = readSetting(db, APP_SETTING_KEY);
  if (stored === undefined) return { autoStart: false };
  const parsed = appSettingsSchema.safeParse(stored);
  // A row we cannot read starts nothing: opening a listener needs a clear yes.
  return parsed.success ? parsed.data : { autoStart: false };
}

/** What the launch did about the gateway, for the log line the app writes. */
export type AutoStartOutcome =
  | { readonly kind: 'off' }
  | { readonly kind: 'not-initialized' }
  | { readonly kind: 'started'; readonly state: GatewayState }
  /** A passphrase vault: the gateway starts once the operator unlocks it in this run. */
  | { readonly kind: 'waiting-for-unlock' }
  | { readonly kind: 'already-running' }
  | { readonly kind: 'failed'; readonly message: string };

/** The part of ConsoleService the launch needs (so a test drives the real service through it). */
export interface AutoStartService {
  status(): Promise<StatusInfo>;
  startGateway(): Promise<GatewayState>;
  on(event: 'status.changed', listener: (status: StatusInfo) => void): () => void;
}

/**
 * Starts the gateway at launch when the saved setting says so (issue 10). A locked passphrase vault
 * cannot open the CA key the start needs, so it waits for the unlock instead of asking at launch;
 * `onLater` hears what that deferred start did. Never throws: the app opens either way.
 */
export async function startOnLaunch(
  service: AutoStartService,
  onLater: (outcome: AutoStartOutcome) => void = () => undefined,
): Promise<AutoStartOutcome> {
  let status: StatusInfo;
  try {
    status = await service.status();
  } catch (e) {
    return { kind: 'failed', message: messageOf(e) };
  }
  if (!status.initialized) return { kind: 'not-initialized' };
  if (status.autoStart !== true) return { kind: 'off' };
  if (status.gateway.state.kind === 'running' || status.gateway.state.kind === 'starting') {
    return { kind: 'already-running' };
  }
  if (status.vault.locked === true) {
    const off = service.on('status.changed', (next) => {
      if (next.vault.locked === true) return;
      off();
      // Only if still wanted and nobody started it by hand meanwhile.
      if (next.autoStart !== true || next.gateway.state.kind !== 'stopped') return;
      void attempt(service).then(onLater);
    });
    return { kind: 'waiting-for-unlock' };
  }
  return attempt(service);
}

async function attempt(service: AutoStartService): Promise<AutoStartOutcome> {
  try {
    return { kind: 'started', state: await service.startGateway() };
  } catch (e) {
    if (isConsoleError(e) && e.code === 'VAULT_LOCKED') return { kind: 'waiting-for-unlock' };
    return { kind: 'failed', message: messageOf(e) };
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** One line for the app's log. */
export function describeAutoStart(o: AutoStartOutcome): string | null {
  switch (o.kind) {
    case 'off':
    case 'not-initialized':
    case 'already-running':
      return null;
    case 'started':
      return o.state.kind === 'running' ? `gateway started on launch (${o.state.listen})` : null;
    case 'waiting-for-unlock':
      return 'gateway starts on launch once the vault is unlocked';
    case 'failed':
      return `the gateway did not start on launch: ${o.message}`;
    default: {
      const never: never = o;
      return String(never);
    }
  }
}
