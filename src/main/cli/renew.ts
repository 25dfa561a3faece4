import { spawn } from 'node:child_process';
import path from 'node:path';
import type { CommandContext } from './commands';
import type { OptionSpec } from './usage';
import { usageError } from './usage';
import { ConsoleError, isConsoleError } from '../errors';
import { readCurrent, renewOnce, RenewRefused, type RenewFiles, type Renewed } from './renew-request';
import { RENEW_AT } from '../../shared/renewal';

/**
 * `mtls-console renew` (issue 9): the client side of renewal over the gateway's mTLS, like
 * `step ca renew`. Once, or with --daemon at 2/3 of each certificate's lifetime (cert-manager's and
 * step-ca's point) with ±5 % jitter so a fleet issued together does not renew together.
 */
export const renewCommandOptions: Readonly<Record<string, OptionSpec>> = {
  cert: {
    type: 'string',
    value: 'FILE',
    description: 'the client certificate, replaced in place (required)',
  },
  key: { type: 'string', value: 'FILE', description: 'its private key (required)' },
  ca: { type: 'string', value: 'FILE', description: "the console's CA certificate, ca.crt (required)" },
  url: { type: 'string', value: 'URL', description: 'the gateway, https://HOST:PORT (required)' },
  rekey: {
    type: 'boolean',
    description: 'a new key of the same type, sent as a CSR; the key file is replaced (0600)',
  },
  daemon: {
    type: 'boolean',
    description: 'keep running: renew at 2/3 of each lifetime (±5% jitter), retry failures, stop on SIGTERM',
  },
  exec: {
    type: 'string',
    value: 'CMD',
    description: 'run CMD (with /bin/sh -c) after each renewal, e.g. to reload what uses the files',
  },
  json: { type: 'boolean', description: 'print JSON (without --daemon)' },
};

/** Jitter around the renewal point, as a fraction of the lifetime. */
const JITTER = 0.05;
/** setTimeout's limit; longer waits are slept in pieces. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_BACKOFF_MS = 10 * 60_000;

function gatewayUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`--url: "${text}" is not a URL (e.g. https://127.0.0.1:19821)`);
  }
  if (url.protocol !== 'https:' || url.hostname === '') {
    throw usageError('--url: the gateway is https://HOST:PORT');
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw usageError('--url: only https://HOST:PORT (the renewal path is fixed)');
  }
  return url;
}

function flag(values: CommandContext['values'], name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw usageError(`--${name} is required`);
  return v;
}

/** When to renew `c`: 2/3 of its lifetime, moved by up to ±5 % of the lifetime. */
export function renewalTime(c: { notBefore: number; notAfter: number }, random = Math.random()): number {
  const lifetime = c.notAfter - c.notBefore;
  return c.notBefore + lifetime * RENEW_AT + (random * 2 - 1) * JITTER * lifetime;
}

/** The wait before retry `attempt` (0-based): doubling from 1/100 of the lifetime, never past a quarter of what is left. */
export function retryDelay(attempt: number, c: { notBefore: number; notAfter: number }, now: number): number {
  const base = Math.min(Math.max((c.notAfter - c.notBefore) / 100, 1000), 30_000);
  const left = Math.max((c.notAfter - now) / 4, 1000);
  return Math.min(base * 2 ** Math.min(attempt, 20), MAX_BACKOFF_MS, left) * (0.9 + Math.random() * 0.2);
}

/** Runs --exec through the shell; resolves with its exit code (or the signal that ended it). */
function runExec(cmd: string, files: RenewFiles, r: Renewed): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(cmd, {
      shell: true,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        MTLS_CONSOLE_CERT: files.cert,
        MTLS_CONSOLE_KEY: files.key,
        MTLS_CONSOLE_SERIAL: r.serial,
      },
    });
    child.once('error', (e) => resolve(e.message));
    child.once('exit', (code, signal) =>
      resolve(code === 0 ? null : signal ? `ended by ${signal}` : `exited ${code ?? '?'}`),
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    signal.addEventListener('abort', done, { once: true });
  });
}

function renewedLine(r: Renewed, files: RenewFiles): string {
  return `renewed ${path.basename(files.cert)}: serial ${r.serial} (was ${r.previousSerial}), valid until ${r.notAfter}${r.rekey ? ', new key' : ''}`;
}

export async function runRenew({ values, out, err }: CommandContext): Promise<void> {
  const files: RenewFiles = {
    cert: path.resolve(flag(values, 'cert')),
    key: path.resolve(flag(values, 'key')),
    ca: path.resolve(flag(values, 'ca')),
  };
  const url = gatewayUrl(flag(values, 'url'));
  const rekey = values.rekey === true;
  const exec = typeof values.exec === 'string' ? values.exec : undefined;
  if (exec !== undefined && exec.trim() === '') throw usageError('--exec: an empty command');
  if (values.daemon === true && values.json === true) throw usageError('--json goes without --daemon');

  if (values.daemon !== true) {
    const r = await renewOnce(url, files, rekey);
    out(values.json ? JSON.stringify({ ...r, files }, null, 2) : renewedLine(r, files));
    if (exec !== undefined) {
      const failed = await runExec(exec, files, r);
      if (failed !== null) throw new ConsoleError('IO', `renewed, but --exec ${failed}`);
    }
    return;
  }
  await daemon(url, files, rekey, exec, err);
}

/** Renews at each certificate's renewal time until SIGTERM or SIGINT; a permanent refusal ends it. */
async function daemon(
  url: URL,
  files: RenewFiles,
  rekey: boolean,
  exec: string | undefined,
  log: (line: string) => void,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = (sig: string) => () => {
    log(`mtls-console renew: ${sig}, stopping`);
    stop.abort();
  };
  const onTerm = onSignal('SIGTERM');
  const onInt = onSignal('SIGINT');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  const say = (line: string) => log(`mtls-console renew: ${line}`);
  try {
    // Bad files are refused at once rather than at the first renewal, days later.
    let current = await readCurrent(files);
    let attempt = 0;
    let due = renewalTime(current);
    say(
      `watching ${files.cert} (serial ${current.cert.serialNumber.toLowerCase()}); renewal at ${new Date(due).toISOString()}`,
    );
    while (!stop.signal.aborted) {
      const wait = due - Date.now();
      if (wait > 0) {
        await sleep(wait, stop.signal);
        continue; // re-checked: a timer may fire early after a suspend, or we were stopped
      }
      try {
        // Renewed in flight is finished even on SIGTERM: a lost answer would leave a superseded certificate.
        const r = await renewOnce(url, files, rekey);
        attempt = 0;
        current = await readCurrent(files);
        due = renewalTime(current);
        say(`${renewedLine(r, files)}; next renewal at ${new Date(due).toISOString()}`);
        if (exec !== undefined) {
          const failed = await runExec(exec, files, r);
          if (failed !== null) say(`warning: --exec ${failed}`);
        }
      } catch (e) {
        if (e instanceof RenewRefused && !e.retryable) throw e;
        if (!isConsoleError(e)) throw e;
        // The files may have been replaced meanwhile (re-issued by hand): then watch the new certificate.
        const latest = await readCurrent(files).catch(() => current);
        if (latest.cert.serialNumber !== current.cert.serialNumber) {
          current = latest;
          attempt = 0;
          due = renewalTime(current);
          say(
            `${files.cert} was replaced (serial ${current.cert.serialNumber.toLowerCase()}); renewal at ${new Date(due).toISOString()}`,
          );
          continue;
        }
        const now = Date.now();
        if (now >= current.notAfter) {
          throw new ConsoleError(
            'FORBIDDEN',
            `${files.cert} expired at ${new Date(current.notAfter).toISOString()} before it could be renewed (${e.message}); ask the operator for a new certificate`,
          );
        }
        const delay = retryDelay(attempt++, current, now);
        due = now + delay;
        say(`${e.message}; retrying in ${Math.ceil(delay / 1000)} s`);
      }
    }
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
}
