/**
 * The renderer's Content-Security-Policy, built in one place (Teleport Connect's csp.ts): main sends
 * it as a response header, the renderer's index.html carries it as a meta tag (file:// loads get no
 * headers), and the e2e bridge serves it too, so every way of loading the UI runs under the same policy.
 * The renderer talks to main only over IPC, so it needs no network at all (`connect-src 'none'`).
 */
export interface CspOptions {
  /** electron-vite dev server: Vite injects inline styles and talks HMR over a websocket. */
  readonly dev?: boolean;
  /** Origin of the dev server, e.g. `http://localhost:5173` (dev only). */
  readonly devServerOrigin?: string;
}

export function buildCsp(opts: CspOptions = {}): string {
  const dev = opts.dev === true;
  const devWs = opts.devServerOrigin ? opts.devServerOrigin.replace(/^http/, 'ws') : 'ws://localhost:*';
  const directives: Record<string, string[]> = {
    'default-src': ["'none'"],
    'script-src': ["'self'"],
    // React and uPlot set styles through the CSSOM, which CSP does not restrict; no inline <style> in builds.
    'style-src': dev ? ["'self'", "'unsafe-inline'"] : ["'self'"],
    'img-src': ["'self'", 'data:'],
    'font-src': ["'self'"],
    'connect-src': dev ? ["'self'", devWs] : ["'none'"],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'none'"],
    'frame-src': ["'none'"],
    'worker-src': ["'none'"],
  };
  return Object.entries(directives)
    .map(([k, v]) => `${k} ${v.join(' ')}`)
    .join('; ');
}

/** The production policy: what index.html's meta tag and main's header both carry. */
export const RENDERER_CSP = buildCsp();
