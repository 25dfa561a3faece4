import { Profiler, type ProfilerOnRenderCallback, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { CallInput } from '../../src/shared/contract';
import type { AuditActor, AuditFilter, AuditPage, AuditRecord, ConnectionInfo } from '../../src/shared/model';
import type { MtlsApi } from '../../src/shared/api';
import { matchLive } from '../../src/renderer/src/lib/audit-filter';
import {
  AuditPanel,
  ConnectionsPanel,
  useAuditStore,
  useConnectionsStore,
} from '../../src/renderer/src/panels';
import '../../src/renderer/src/styles.css';
import type { BenchApi, MountResult, ScrollResult, UpdateResult } from './types';

/**
 * Renderer bench page: mounts the standalone panels and feeds their stores the way the app does.
 * The Audit store pages through `audit.query`, answered here from a synthetic trail held in the page
 * (main's SQLite stands behind it in the app). `react-dom/client` is aliased to `react-dom/profiling`
 * by the driver's build so <Profiler> reports render + commit times.
 */

/** The log behind the stubbed `audit.query`, oldest first (seq = index + 1). */
let trail: AuditRecord[] = [];
let auditQueries = 0;

/** `audit.query` over `trail`, newest first, as main answers it (DESIGN.md §9). */
function queryTrail(input: CallInput<'audit.query'>): AuditPage {
  auditQueries++;
  const f: AuditFilter = input.filter ?? {};
  const limit = input.limit ?? 200;
  const filtered = Object.keys(f).length > 0;
  let i = Math.min(trail.length, (input.before ?? Infinity) - 1) - 1;
  const records: AuditRecord[] = [];
  for (; i >= 0 && records.length < limit; i--) {
    const r = trail[i] as AuditRecord;
    if (!filtered || matchLive(f, r) !== 'no') records.push(r);
  }
  let more = false;
  for (; i >= 0 && !more; i--) more = !filtered || matchLive(f, trail[i] as AuditRecord) !== 'no';
  let total = trail.length;
  if (filtered) {
    total = 0;
    for (const r of trail) if (matchLive(f, r) !== 'no') total++;
  }
  return { records, total, nextCursor: more ? (records[records.length - 1] as AuditRecord).seq : null };
}

/** Answers on a later task, as an IPC reply arrives; the panels' other calls get an empty value. */
const stub: MtlsApi = {
  call: new Proxy({} as MtlsApi['call'], {
    get: (_t, name) => (input: unknown) =>
      new Promise((resolve) =>
        setTimeout(() =>
          resolve({
            ok: true,
            value: name === 'audit.query' ? queryTrail(input as CallInput<'audit.query'>) : [],
          }),
        ),
      ),
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
    let subject: Client | null = c;
    if (i === 0) {
      type = 'ca.initialized';
      who = operator;
      subject = null;
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
      subject = { cn: c.cn, serial: hex(rand, 32) };
      details = {
        serial: subject.serial,
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
      subject = null;
      details = { listen: '127.0.0.1:19821', upstream: 'http://127.0.0.1:18970' };
    }
    const hash = hex(rand, 64);
    out[i] = {
      seq: i + 1,
      time: new Date(start + i * 731).toISOString(),
      type,
      actor: who,
      cn: subject?.cn ?? null,
      serial: subject?.serial ?? null,
      details,
      prev,
      hash,
    };
    prev = hash;
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
  useAuditStore.getState().reset();
  useConnectionsStore.setState({ connections: [], samples: [], refusals: [] });
}

const AUDIT_ROW = '[data-testid="audit-row"]';

const auditReady = () =>
  new Promise<void>((resolve, reject) => {
    const timer = window.setTimeout(() => {
      off();
      reject(new Error('timed out waiting for the audit store'));
    }, WAIT_LIMIT_MS);
    const check = (st: ReturnType<typeof useAuditStore.getState>) => {
      if (st.status !== 'ready') return false;
      window.clearTimeout(timer);
      off();
      resolve();
      return true;
    };
    const off = useAuditStore.subscribe((st) => void check(st));
    check(useAuditStore.getState());
  });

/**
 * Opens the Audit panel against an n-record log: from open() (first page and count asked of the
 * stub) to the first paint with rows. The log is generated once per n and is not timed.
 */
async function mountAudit(n: number): Promise<MountResult> {
  reset();
  if (trail.length !== n) trail = syntheticAudit(n);
  auditQueries = 0;
  await afterPaint(); // start from an idle, painted page
  reactMs = 0;
  const t0 = performance.now();
  useAuditStore.getState().open();
  mount(<AuditPanel />);
  await waitFor(host as HTMLElement, AUDIT_ROW);
  const t1 = await afterPaint();
  return {
    ms: t1 - t0,
    rows: (host as HTMLElement).querySelectorAll(AUDIT_ROW).length,
    reactMs,
    loaded: useAuditStore.getState().records.length,
    queries: auditQueries,
  };
}

async function scrollAudit(frames: number, px: number): Promise<ScrollResult> {
  const scroller = (host as HTMLElement).querySelector<HTMLElement>('.audit-scroll');
  if (!scroller) throw new Error('mount the Audit panel first');
  scroller.scrollTop = 0;
  await afterPaint();
  const queriesBefore = auditQueries;
  const deltas: number[] = [];
  let stalled = 0;
  let last = await nextFrame();
  for (let i = 0; i < frames; i++) {
    const before = scroller.scrollTop;
    scroller.scrollTop += px;
    // Short of the full step: the list ran out of loaded rows before the next page came in.
    if (scroller.scrollTop - before < px - 1) stalled++;
    const now = await nextFrame();
    deltas.push(now - last);
    last = now;
  }
  const first = scroller.querySelector<HTMLElement>(AUDIT_ROW);
  await afterPaint();
  return {
    deltas,
    scrolled: scroller.scrollTop,
    lastSeq: first ? Number(first.dataset.seq) : null,
    pages: auditQueries - queriesBefore,
    loaded: useAuditStore.getState().records.length,
    stalled,
  };
}

/** A filter change (debounce skipped): from setDraft to the first paint of the new first page. */
async function filterAudit(type: string): Promise<MountResult> {
  const store = useAuditStore.getState();
  await afterPaint();
  auditQueries = 0;
  reactMs = 0;
  const t0 = performance.now();
  store.setDraft({ ...store.draft, type }, { immediate: true });
  await auditReady();
  const t1 = await afterPaint();
  const rows = [...(host as HTMLElement).querySelectorAll<HTMLElement>(AUDIT_ROW)];
  if (rows.some((r) => !(r.dataset.type ?? '').startsWith(type))) throw new Error('filter not applied');
  return {
    ms: t1 - t0,
    rows: rows.length,
    reactMs,
    loaded: useAuditStore.getState().records.length,
    queries: auditQueries,
  };
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

const api: BenchApi = { mountAudit, scrollAudit, filterAudit, mountConnections, updateConnections, reset };
window.__bench = api;
