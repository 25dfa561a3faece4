import type { Session } from 'electron';
import { buildCsp } from '../../shared/csp';

/**
 * Sends the renderer's CSP (built once, in shared/csp.ts) as a response header on every response
 * the session sees. file:// loads carry no headers, so the renderer's index.html has the same
 * policy as a meta tag; the header covers the dev server and anything else the window fetches.
 */
export function installCsp(session: Session, opts: { dev: boolean; devServerUrl?: string }): string {
  const csp = buildCsp({
    dev: opts.dev,
    ...(opts.devServerUrl ? { devServerOrigin: new URL(opts.devServerUrl).origin } : {}),
  });
  session.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    // Drop any policy the response brought (header names are case-insensitive) so ours is the only one.
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === 'content-security-policy') delete headers[name];
    }
    headers['Content-Security-Policy'] = [csp];
    callback({ responseHeaders: headers });
  });
  return csp;
}
