import { utilityProcess, type UtilityProcess } from 'electron';
import { EventEmitter } from 'node:events';

/**
 * Starts the gateway as an Electron utilityProcess (DESIGN.md §2): it works with the RunAsNode
 * fuse off, loads out/main/gateway.js from inside the asar, and talks over process.parentPort.
 * PROVISIONAL shape until src/main/gateway/supervisor.ts lands; then this implements its launcher.
 */
export interface GatewayChildLike {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  send(message: unknown): void;
  kill(): boolean;
  on(event: 'message', listener: (message: unknown) => void): this;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'spawn', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

export interface UtilityLauncherOptions {
  /** Absolute path of the gateway bundle (out/main/gateway.js next to index.js). */
  readonly modulePath: string;
}

/** Environment the gateway must not inherit: they would change how its Node runs (VS Code strips these too). */
const STRIPPED_ENV = [
  'NODE_OPTIONS',
  'ELECTRON_RUN_AS_NODE',
  'NODE_REPL_EXTERNAL_MODULE',
  'VSCODE_INSPECTOR_OPTIONS',
];

function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !STRIPPED_ENV.includes(k)) env[k] = v;
  }
  return env;
}

class UtilityChild extends EventEmitter implements GatewayChildLike {
  constructor(private readonly proc: UtilityProcess) {
    super();
    proc.on('spawn', () => this.emit('spawn'));
    proc.on('message', (m: unknown) => this.emit('message', m));
    // utilityProcess reports only an exit code; a crash shows as a non-zero code.
    proc.on('exit', (code: number) => this.emit('exit', code, null));
    proc.on('error', (type: string, location: string) =>
      this.emit('error', new Error(`gateway ${type} at ${location}`)),
    );
  }
  get pid(): number | undefined {
    return this.proc.pid;
  }
  get stdout(): NodeJS.ReadableStream | null {
    return this.proc.stdout;
  }
  get stderr(): NodeJS.ReadableStream | null {
    return this.proc.stderr;
  }
  send(message: unknown): void {
    this.proc.postMessage(message);
  }
  kill(): boolean {
    return this.proc.kill();
  }
}

export function createUtilityLauncher(opts: UtilityLauncherOptions): { launch(): GatewayChildLike } {
  return {
    launch() {
      const proc = utilityProcess.fork(opts.modulePath, [], {
        serviceName: 'mtls-gateway',
        stdio: 'pipe',
        env: childEnv(),
      });
      return new UtilityChild(proc);
    },
  };
}
