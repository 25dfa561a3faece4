import { fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ParentToGateway } from './protocol';

/** One running gateway process, however it was started (fork here, utilityProcess in src/main/electron). */
export interface GatewayChild {
  readonly pid: number | undefined;
  send(msg: ParentToGateway): void;
  onMessage(cb: (msg: unknown) => void): void;
  /** Called once; `signal` is null when the process exited by itself (or the runtime cannot tell). */
  onExit(cb: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  onStdoutLine(cb: (line: string) => void): void;
  onStderrLine(cb: (line: string) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

export interface GatewayLauncher {
  launch(): GatewayChild;
}

/**
 * The gateway gets only what a Node process needs to run, never the parent's secrets
 * (`MTLS_CONSOLE_PASSPHRASE_FILE`, tokens) nor variables that inject code or flags (NODE_OPTIONS,
 * ELECTRON_RUN_AS_NODE, OPENSSL_CONF): an allowlist, since a denylist misses tomorrow's variable.
 * VS Code strips its utility processes' environment the same way.
 */
const ALLOWED_ENV = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'TMPDIR',
  'TMP',
  'TEMP',
  'TZ',
  'LANG',
  'LANGUAGE',
  'NODE_ENV',
  // Windows: without these Node cannot find system DLLs, the temp dir or the user profile.
  'SYSTEMROOT',
  'SYSTEMDRIVE',
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
  'USERPROFILE',
  'LOCALAPPDATA',
  'APPDATA',
]);

function allowed(name: string): boolean {
  const upper = name.toUpperCase();
  return ALLOWED_ENV.has(upper) || upper.startsWith('LC_');
}

export function sanitizedEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && allowed(k)) out[k] = v;
  }
  return out;
}

/**
 * V8 flags of the gateway process (issue 12). Node 24's default young generation lets a busy
 * gateway's RSS grow to 210–240 MiB (50 busy connections); capped at 16 MiB per semi-space it holds
 * ~112–125 MiB for the same CPU per request. Smaller caps trade CPU for memory: 8 MiB held ~98 MiB
 * and 4 MiB ~88 MiB, at ~10% or more CPU per request (paired A/B, a noisy machine). No cap gets
 * under the issue's 64 MiB: node:tls alone with the same connections peaks at ~70 MiB (bench).
 */
export const GATEWAY_V8_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/** Launches the gateway with `child_process.fork` (the CLI's `serve`, and tests from source with tsx). */
export class ForkLauncher implements GatewayLauncher {
  constructor(
    private readonly entryPath: string,
    private readonly execArgv: readonly string[] = [],
  ) {}

  launch(): GatewayChild {
    const child = fork(this.entryPath, [], {
      execArgv: [...GATEWAY_V8_FLAGS, ...this.execArgv],
      env: sanitizedEnv(),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const lineReader = (stream: NodeJS.ReadableStream | null) => (cb: (line: string) => void) => {
      if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', cb);
    };
    // A send racing the child's death must not throw into the supervisor; the exit event reports it.
    child.on('error', () => undefined);
    return {
      pid: child.pid,
      send: (msg) => {
        if (child.connected) child.send(msg, (err) => void err);
      },
      onMessage: (cb) => void child.on('message', (m: unknown) => cb(m)),
      onExit: (cb) => void child.once('exit', cb),
      onStdoutLine: lineReader(child.stdout),
      onStderrLine: lineReader(child.stderr),
      kill: (signal) => void child.kill(signal ?? 'SIGTERM'),
    };
  }
}
