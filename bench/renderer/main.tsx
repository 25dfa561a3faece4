import { Profiler, type ProfilerOnRenderCallback, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { AuditActor, AuditRecord, ConnectionInfo } from '../../src/shared/model';
import type { MtlsApi } from '../../src/shared/api';
import {
  AuditPanel,
  ConnectionsPanel,
  useAuditStore,
  useConnectionsStore,
} from '../../src/renderer/src/panels';
import '../../src/renderer/src/styles.css';
import type { BenchApi, MountResult, ScrollResult, UpdateResult } from './types';

/**
 * Renderer bench page: mounts the standalone panels and feeds their stores directly, the way
 * src/renderer/src/feeds.ts would. `react-dom/client` is aliased to `react-dom/profiling` by the
 * driver's build so <Profiler> reports render + commit times.
 */

// The panels only call main on button clicks; a stub keeps any stray call from throwing.
const stub: MtlsApi = {
  call: new Proxy({} as MtlsApi['call'], {
    get: () => () => Promise.resolve({ ok: true, value: [] }),
  }),
  on: () => () => undefined,
};
Object.defineProperty(window, 'mtls', { value: stub, configurable: true });

const WAIT_LIMIT_MS = 60_000;

// Deterministic PRNG (mulberry32) so every run sees the same trail.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(rand: () => number, chars: number): string {
  let s = '';
  while (s.length < chars)
    s += Math.floor(rand() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return s.slice(0, chars);
}

interface Client {
  readonly cn: string;
  readonly serial: string;
}

function clientPool(rand: () => number, n: number): Client[] {
  return Array.from({ length: n }, (_, i) => ({
    cn: `svc-${i.toString().padStart(3, '0')}`,
    serial: hex(rand, 32),
  }));
}

const PATHS = [
  '/api/v1/orders',
  '/api/v1/orders/:id',
  '/api/v1/health',
  '/api/v1/metrics',
  '/api/v1/users/me',
];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const REFUSALS = ['revoked', 'expired', 'unknown_ca', 'no_certificate', 'limit_reached', 'bad_handshake'];

/** A synthetic audit trail shaped like the gateway's and the console's records (DESIGN.md §9). */
export function syntheticAudit(n: number, seed = 1): AuditRecord[] {
  const rand = rng(seed);
  const clients = clientPool(rand, 200);
  const operator: AuditActor = { kind: 'operator', name: 'ops' };
  const system: AuditActor = { kind: 'system' };
  const start = Date.UTC(2026, 0, 1);
  const out: AuditRecord[] = new Array<AuditRecord>(n);
  let prev = '0'.repeat(64);
  let conn = 0;
  for (let i = 0; i < n; i++) {
    const c = clients[Math.floor(rand() * clients.length)] as Client;
    const actor: AuditActor = { kind: 'client', cn: c.cn, serial: c.serial };
    const remoteAddress = `10.0.${Math.floor(rand() * 8)}.${Math.floor(rand() * 250) + 2}:${40000 + Math.floor(rand() * 20000)}`;
    const roll = rand();
    let type: string;
    let details: Record<string, unknown>;
    let who: AuditActor = actor;
    if (i === 0) {
      type = 'ca.initialized';
      who = operator;
      details = {
        subject: 'CN=Bench CA',
        algorithm: 'ecdsa-p256',
        serial: hex(rand, 32),
        vault: 'passphrase',
      };
    } else if (roll < 0.62) {
      type = 'gateway.request';
      details = {
        connectionId: `c${conn}`,
        method: METHODS[Math.floor(rand() * METHODS.length)],
        path: PATHS[Math.floor(rand() * PATHS.length)],
        status: rand() < 0.95 ? 200 : 502,
        ms: Math.round(rand() * 400) / 10,
      };
    } else if (roll < 0.76) {
      type = 'gateway.connection.accepted';
      conn++;
      details = { connectionId: `c${conn}`, remoteAddress, tls: 'TLSv1.3' };
    } else if (roll < 0.9) {
      type = 'gateway.connection.closed';
      details = {
        connectionId: `c${Math.max(0, conn - Math.floor(rand() * 20))}`,
        bytesIn: Math.floor(rand() * 5e6),
        bytesOut: Math.floor(rand() * 5e7),
        requests: Math.floor(rand() * 300),
        reason: rand() < 0.8 ? undefined : 'idle',
      };
    } else if (roll < 0.96) {
      type = 'gateway.connection.refused';
      details = { remoteAddress, reason: REFUSALS[Math.floor(rand() * REFUSALS.length)] };
    } else if (roll < 0.985) {
      type = 'client.issued';
      who = operator;
      details = {
        serial: hex(rand, 32),
        cn: c.cn,
        notAfter: new Date(start + 90 * 86_400_000).toISOString(),
        fingerprintSha256: hex(rand, 64),
      };
    } else if (roll < 0.995) {
      type = 'client.revoked';
      who = operator;
      details = { serial: c.serial, cn: c.cn, reason: 'keyCompromise' };
    } else {
      type = rand() < 0.5 ? 'gateway.started' : 'gateway.stopped';
      who = system;
      details = { listen: '127.0.0.1:19821', upstream: 'http://127.0.0.1:18970' };
    }
    out[i] = {
      seq: i + 1,
      time: new Date(start + i * 731).toISOString(),
      type,
      actor: who,
      details,
      prev,
    };
    prev = hex(rand, 64);
  }
  return out;
}

function syntheticConnections(n: number, rand: () => number): ConnectionInfo[] {
  const clients = clientPool(rand, n);
  const since = Date.now() - 3_600_000;
  return clients.map((c, i) => ({
    id: `conn-${i}`,
    cn: c.cn,
    serial: c.serial,
    remoteAddress: `10.0.1.${i + 2}:${41000 + i}`,
    since: new Date(since + i * 60_000).toISOString(),
    bytesIn: Math.floor(rand() * 1e6),
    bytesOut: Math.floor(rand() * 1e7),
    requests: Math.floor(rand() * 100),
  }));
}

// --- timing helpers ---------------------------------------------------------------------------

const nextFrame = (): Promise<number> => new Promise((resolve) => requestAnimationFrame(resolve));

/** Resolves with performance.now() just after the next frame is painted (rAF, then a task). */
function afterPaint(): Promise<number> {
  return new Promise((resolve) => {
    requestAnimationFrame(() => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve(performance.now());
      };
      ch.port2.postMessage(null);
    });
  });
}

/** Resolves once `selector` matches something under `el` (checked on every DOM mutation). */
function waitFor(el: Element, selector: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (el.querySelector(selector)) return resolve();
    const timer = window.setTimeout(() => {
      mo.disconnect();
      reject(new Error(`timed out waiting for ${selector}`));
    }, WAIT_LIMIT_MS);
    const mo = new MutationObserver(() => {
      if (!el.querySelector(selector)) return;
      mo.disconnect();
      window.clearTimeout(timer);
      resolve();
    });
    mo.observe(el, { childList: true, subtree: true });
  });
}

// --- mounting ---------------------------------------------------------------------------------

const host = document.getElementById('root');
if (!host) throw new Error('bench page has no #root');
let root: Root | null = null;
let reactMs = 0;

const onRender: ProfilerOnRenderCallback = (_id, _phase, actualDuration) => {
  reactMs += actualDuration;
};

function mount(panel: ReactNode): void {
  root = createRoot(host as HTMLElement);
  root.render(
    <div className="main" style={{ height: '100vh', boxSizing: 'border-box' }}>
      <Profiler id="panel" onRender={onRender}>
        {panel}
      </Profiler>
    </div>,
  );
}

function reset(): void {
  root?.unmount();
  root = null;
  useAuditStore.setState({ records: [], loaded: false, loading: false });
  useConnectionsStore.setState({ connections: [], samples: [], refusals: [] });
}

const AUDIT_ROW = '[data-testid="audit-row"]';

async function mountAudit(n: number): Promise<MountResult> {
  reset();
  const records = syntheticAudit(n);
  await afterPaint(); // start from an idle, painted page
  reactMs = 0;
  const t0 = performance.now();
  useAuditStore.getState().load(records);
  mount(<AuditPanel />);
  await waitFor(host as HTMLElement, AUDIT_ROW);
  const t1 = await afterPaint();
  return { ms: t1 - t0, rows: (host as HTMLElement).querySelectorAll(AUDIT_ROW).length, reactMs };
}

async function scrollAudit(frames: number, px: number): Promise<ScrollResult> {
  const scroller = (host as HTMLElement).querySelector<HTMLElement>('.audit-scroll');
  if (!scroller) throw new Error('mount the Audit panel first');
  scroller.scrollTop = 0;
  await afterPaint();
  const deltas: number[] = [];
  let last = await nextFrame();
  for (let i = 0; i < frames; i++) {
    scroller.scrollTop += px;
    const now = await nextFrame();
    deltas.push(now - last);
    last = now;
  }
  const first = scroller.querySelector<HTMLElement>(AUDIT_ROW);
  await afterPaint();
  return { deltas, scrolled: scroller.scrollTop, lastSeq: first ? Number(first.dataset.seq) : null };
}

let connRand = rng(7);

async function mountConnections(n: number): Promise<MountResult> {
  reset();
  connRand = rng(7);
  const list = syntheticConnections(n, connRand);
  await afterPaint();
  reactMs = 0;
  const t0 = performance.now();
  useConnectionsStore.getState().setConnections(list);
  mount(<ConnectionsPanel />);
  await waitFor(host as HTMLElement, '[data-testid^="connection-row-"]');
  const t1 = await afterPaint();
  const rows = (host as HTMLElement).querySelectorAll('[data-testid^="connection-row-"]').length;
  return { ms: t1 - t0, rows, reactMs };
}

/**
 * One update per animation frame, as a busy `connections.changed` feed would deliver: a fresh array
 * of fresh objects (IPC structured-clones every payload), every connection's counters moved.
 * Measured from the store update (inside the frame's rAF callback) to the task right after that
 * frame's paint, so it covers zustand, React render + commit, the uPlot redraw, style, layout, paint.
 */
async function updateConnections(iterations: number): Promise<UpdateResult> {
  const ms: number[] = [];
  const react: number[] = [];
  let list = useConnectionsStore.getState().connections;
  if (list.length === 0) throw new Error('mount the Connections panel first');
  await afterPaint();
  for (let i = 0; i < iterations; i++) {
    list = list.map((c) => ({
      ...c,
      bytesIn: c.bytesIn + 1 + Math.floor(connRand() * 40_000),
      bytesOut: c.bytesOut + 1 + Math.floor(connRand() * 400_000),
      requests: c.requests + 1 + Math.floor(connRand() * 3),
    }));
    const next = list;
    const [start, end, r] = await new Promise<[number, number, number]>((resolve) => {
      requestAnimationFrame(() => {
        reactMs = 0;
        const t0 = performance.now();
        useConnectionsStore.getState().setConnections(next);
        const ch = new MessageChannel();
        ch.port1.onmessage = () => {
          ch.port1.close();
          resolve([t0, performance.now(), reactMs]);
        };
        ch.port2.postMessage(null);
      });
    });
    ms.push(end - start);
    react.push(r);
  }
  const rows = (host as HTMLElement).querySelectorAll('[data-testid^="connection-row-"]').length;
  return { ms, reactMs: react, rows };
}

const api: BenchApi = { mountAudit, scrollAudit, mountConnections, updateConnections, reset };
window.__bench = api;
