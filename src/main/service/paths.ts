import path from 'node:path';
import os from 'node:os';

/**
 * Files in a state dir besides the database. They are derived: written after each commit from what
 * the database holds, so a missing or stale one heals with the next command (DESIGN.md §5).
 */
export interface DerivedPaths {
  readonly dir: string;
  /** For other verifiers and for operators: the trust anchor. */
  readonly caCert: string;
  readonly serverCert: string;
  /** For nginx `ssl_crl` and other verifiers. */
  readonly crl: string;
}

export function derivedPaths(dir: string): DerivedPaths {
  const abs = path.resolve(dir);
  return {
    dir: abs,
    caCert: path.join(abs, 'ca.crt'),
    serverCert: path.join(abs, 'server.crt'),
    crl: path.join(abs, 'crl.pem'),
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
