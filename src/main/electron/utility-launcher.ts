import { utilityProcess, type UtilityProcess } from 'electron';
import { createInterface } from 'node:readline';
import { GATEWAY_V8_FLAGS, sanitizedEnv, type GatewayChild, type GatewayLauncher } from '../gateway';
import type { ParentToGateway } from '../gateway/protocol';

/**
 * Starts the gateway as an Electron utilityProcess (DESIGN.md §2): unlike child_process.fork it
 * works with the RunAsNode fuse off, it loads out/main/gateway.js from inside the asar, and the
 * child talks over `process.parentPort` (src/main/gateway/parent-link.ts detects which).
 */
export class UtilityLauncher implements GatewayLauncher {
  constructor(private readonly modulePath: string) {}

  launch(): GatewayChild {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(sanitizedEnv())) if (v !== undefined) env[k] = v;
    const proc: UtilityProcess = utilityProcess.fork(this.modulePath, [], {
      serviceName: 'mtls-gateway',
      stdio: 'pipe',
      env,
      execArgv: [...GATEWAY_V8_FLAGS],
    });
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    const lineReader = (stream: NodeJS.ReadableStream | null) => (cb: (line: string) => void) => {
      if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', cb);
    };
    return {
      // The pid is known only after 'spawn'; read it when asked.
      get pid() {
        return proc.pid;
      },
      send(msg: ParentToGateway) {
        // A send racing the child's death must not throw into the supervisor; the exit event reports it.
        if (exited) return;
        try {
          proc.postMessage(msg);
        } catch {
          /* the child is gone */
        }
      },
      onMessage: (cb) => void proc.on('message', (m: unknown) => cb(m)),
      // utilityProcess reports only an exit code (a crash or a kill shows as non-zero), never a signal.
      onExit: (cb) => void proc.once('exit', (code: number) => cb(code, null)),
      onStdoutLine: lineReader(proc.stdout),
      onStderrLine: lineReader(proc.stderr),
      kill: () => {
        if (!exited) proc.kill();
      },
    };
  }
}
