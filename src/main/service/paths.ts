import path from 'node:path';
import os from 'node:os';

/** Where each piece of state lives inside one state dir (DESIGN.md §5). */
export interface StatePaths {
  readonly dir: string;
  /** Written last by init: its presence means the CA is complete. */
  readonly meta: string;
  readonly caCert: string;
  readonly caKey: string;
  /** Server cert and its sealed key in one file, so a rotation can never pair a new cert with an old key. */
  readonly server: string;
  /** A plain copy of the server certificate for operators and other tools. */
  readonly serverCert: string;
  readonly registry: string;
  readonly revocations: string;
  readonly crl: string;
  readonly gateway: string;
}

export function statePaths(dir: string): StatePaths {
  const abs = path.resolve(dir);
  const at = (name: string) => path.join(abs, name);
  return {
    dir: abs,
    meta: at('meta.json'),
    caCert: at('ca.crt'),
    caKey: at('ca.key.sealed'),
    server: at('server.json'),
    serverCert: at('server.crt'),
    registry: at('registry.json'),
    revocations: at('revocations.json'),
    crl: at('crl.pem'),
    gateway: at('gateway.json'),
  };
}

/** The app's userData dir on each platform, which the CLI shares by default. */
export function defaultStateDir(): string {
  const home = os.homedir();
  switch (process.platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'mtls-console');
    case 'win32':
      return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'mtls-console');
    default:
      return path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'mtls-console');
  }
}
