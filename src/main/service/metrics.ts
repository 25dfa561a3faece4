/**
 * Prometheus metrics of a console process (issue 11 §4), served as `/metrics` on the plain-HTTP
 * loopback listener beside `/crl` and `/ocsp` (distribution.ts).
 *
 * The gateway's records reach this process in batches (GatewayHost → `onRows`), one call per IPC
 * message, on the same event loop that writes them to the audit log. So the hot path only bumps
 * plain numbers: a labelled prom-client `inc` costs about 0.45 µs and a histogram `observe` 0.35 µs,
 * a Map lookup and an array slot a few tens of ns. prom-client is given those numbers when
 * Prometheus scrapes (`collect`), and reads everything that is a state rather than an event
 * (expiries, live connections, the audit backlog) from the database and the host at that moment.
 * The latency histogram is bucketed here too; as prom-client's Histogram has no public way to load
 * counts, it is handed over in the metric JSON its cluster aggregator takes (AggregatorRegistry).
 *
 * prom-client itself is loaded on first use (about 100 ms of require), so the CLI's other commands
 * do not pay for it; a collector exists only once metrics are switched on.
 *
 * Label sets are bounded: refusal reasons are the gateway's fixed list, status classes six values,
 * and client names the first `maxClientLabels` seen by this process (default 50), the rest under
 * `(other)` — a name never contains parentheses, so it cannot pose as the fold.
 */
import type { DatabaseSync } from 'node:sqlite';
import type * as Prom from 'prom-client';
import type { Counter, Gauge, Registry } from 'prom-client';
import { z } from 'zod';
import { GATEWAY_AUDIT_TYPES as T, REFUSAL_REASONS, type GatewayAuditRow } from '../gateway';
import type { RequestRefusal } from '../gateway/proxy';
import { readSetting } from './state';

/** The saved switch (settings key `metrics`); off unless the operator turned it on. */
const metricsSettingSchema = z.object({ enabled: z.boolean() }).strict();
export type MetricsSetting = z.infer<typeof metricsSettingSchema>;
export const METRICS_SETTING_KEY = 'metrics';

export function readMetricsSetting(db: DatabaseSync): MetricsSetting {
  const stored = readSetting(db, METRICS_SETTING_KEY);
  if (stored === undefined) return { enabled: false };
  const parsed = metricsSettingSchema.safeParse(stored);
  // A row we cannot read keeps metrics off: exposing figures is the choice that needs a clear yes.
  return parsed.success ? parsed.data : { enabled: false };
}

/** What a scrape reads at that moment; the database reads may throw (no CA yet), which leaves that figure out. */
export interface MetricsSources {
  readonly now: () => number;
  readonly gatewayRunning: () => boolean;
  readonly liveConnections: () => number;
  readonly auditWrites: () => { readonly ok: boolean; readonly queued: number };
  /** Epoch ms of the CA's and the server certificate's notAfter and the CRL's nextUpdate. */
  readonly expiries: () => { readonly ca: number; readonly server: number; readonly crl: number };
  /** Whether the current server certificate has a recorded renewal failure. */
  readonly renewalFailing: () => boolean;
}

export const OTHER_CLIENTS = '(other)';
const DEFAULT_MAX_CLIENT_LABELS = 50;
/** Upstream latency buckets (seconds): a local sidecar answers in ms, a slow scan in tens of s. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Index = Math.floor(status / 100); 0 is "no response" (and anything outside 100–599). */
const STATUS_CLASSES = ['0', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Why a request was answered without reaching the upstream (proxy.ts RequestRefusal) and `held`. */
const REQUEST_REFUSALS = [
  'revoked',
  'expired',
  'upgrade_not_allowed',
  'upgrade_pipelined',
  'bad_path',
  'policy_denied',
  'bad_request',
  'audit_unavailable',
] as const satisfies readonly (RequestRefusal | 'audit_unavailable')[];
/** Fails to compile when the proxy gains a refusal this list lacks. */
const ALL_REFUSALS_LISTED: Exclude<RequestRefusal, (typeof REQUEST_REFUSALS)[number]> extends never
  ? true
  : never = true;
void ALL_REFUSALS_LISTED;
const OTHER = 'other';

type PromClient = typeof Prom;
let promClient: Promise<PromClient> | null = null;
function loadPromClient(): Promise<PromClient> {
  promClient ??= import('prom-client');
  return promClient;
}

const LATENCY_NAME = 'mtls_gateway_upstream_duration_seconds';
const LATENCY_HELP =
  'Time from dispatch to the end of the upstream response, per proxied request (WebSocket tunnels excluded)';

/** Counts per latency bucket (not cumulative; the last slot is +Inf), sum and count. */
class LatencyBuckets {
  private readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  private sum = 0;
  private count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] ?? Infinity)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += seconds;
    this.count++;
  }

  /** The histogram as prom-client's `getMetricsAsJSON` shapes one (what AggregatorRegistry reads). */
  toJson(): object {
    let cumulative = 0;
    const buckets = LATENCY_BUCKETS.map((le, i) => {
      cumulative += this.counts[i] ?? 0;
      return { labels: { le }, value: cumulative, metricName: `${LATENCY_NAME}_bucket` };
    });
    return {
      name: LATENCY_NAME,
      help: LATENCY_HELP,
      type: 'histogram',
      aggregator: 'sum',
      values: [
        ...buckets,
        { labels: { le: '+Inf' }, value: this.count, metricName: `${LATENCY_NAME}_bucket` },
        { labels: {}, value: this.sum, metricName: `${LATENCY_NAME}_sum` },
        { labels: {}, value: this.count, metricName: `${LATENCY_NAME}_count` },
      ],
    };
  }
}

/** A counter per value of one bounded label; values outside the list are counted as `other`. */
class ReasonCounts {
  private readonly counts = new Map<string, number>();
  constructor(values: readonly string[]) {
    for (const v of values) this.counts.set(v, 0);
    this.counts.set(OTHER, 0);
  }
  add(value: unknown, n: number): void {
    const key = typeof value === 'string' && this.counts.has(value) ? value : OTHER;
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }
  entries(): IterableIterator<[string, number]> {
    return this.counts.entries();
  }
}

export class MetricsCollector {
  private accepted = 0;
  private readonly refused = new ReasonCounts(REFUSAL_REASONS);
  private readonly requestRefused = new ReasonCounts(REQUEST_REFUSALS);
  /** Per client label: requests per status class (STATUS_CLASSES order). */
  private readonly requests = new Map<string, number[]>();
  private readonly renewals = { renewed: 0, failed: 0 };
  private readonly latency = new LatencyBuckets();
  private readonly maxClients: number;
  private readonly registry: Registry;

  private constructor(
    private readonly prom: PromClient,
    sources: MetricsSources,
    opts: { maxClientLabels?: number },
  ) {
    this.maxClients = opts.maxClientLabels ?? DEFAULT_MAX_CLIENT_LABELS;
    this.registry = new prom.Registry();
    this.register(sources);
  }

  /** Loads prom-client (once per process) and registers every metric on a registry of its own. */
  static async create(
    sources: MetricsSources,
    opts: { maxClientLabels?: number } = {},
  ): Promise<MetricsCollector> {
    return new MetricsCollector(await loadPromClient(), sources, opts);
  }

  /** Hot path: one batch of gateway records as the supervisor checked them. No parsing, no allocation per row. */
  onRows(rows: readonly GatewayAuditRow[]): void {
    for (const r of rows) {
      const d = r.details;
      switch (r.type) {
        case T.request: {
          const status = d.status;
          const cls = typeof status === 'number' && status >= 100 && status < 600 ? (status / 100) | 0 : 0;
          const counts = this.clientCounts(r.cn);
          counts[cls] = (counts[cls] ?? 0) + 1;
          if (d.upgrade !== true && typeof d.ms === 'number') this.latency.observe(d.ms / 1000);
          break;
        }
        case T.accepted:
          this.accepted++;
          break;
        case T.refused:
          this.refused.add(d.reason, 1);
          break;
        case T.refusedSuppressed:
          // A flood is logged as one record per window with the count it left out.
          this.refused.add(d.reason, typeof d.count === 'number' ? d.count : 0);
          break;
        case T.requestRefused:
          this.requestRefused.add(d.reason, 1);
          break;
        case T.requestHeld:
          this.requestRefused.add('audit_unavailable', 1);
          break;
      }
    }
  }

  onRenewal(result: 'renewed' | 'failed'): void {
    this.renewals[result]++;
  }

  /** The Prometheus text exposition of everything, as of now. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const latency = this.prom.AggregatorRegistry.aggregate<Prom.PrometheusContentType>([
      [this.latency.toJson()],
    ]);
    const all = this.prom.Registry.merge([latency, this.registry]);
    return { contentType: all.contentType, body: await all.metrics() };
  }

  private clientCounts(cn: string | null): number[] {
    const found = cn === null ? undefined : this.requests.get(cn);
    if (found) return found;
    const label = cn !== null && this.requests.size < this.maxClients ? cn : OTHER_CLIENTS;
    let counts = this.requests.get(label);
    if (!counts) {
      counts = [0, 0, 0, 0, 0, 0];
      this.requests.set(label, counts);
    }
    return counts;
  }

  private register(src: MetricsSources): void {
    const prom = this.prom;
    const registers = [this.registry];
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client binds `this` to the metric in collect()
    const self = this;
    new prom.Counter({
      name: 'mtls_gateway_handshakes_total',
      help: 'TLS handshakes by result; refused ones by reason (flood-suppressed refusals included)',
      labelNames: ['result', 'reason'],
      registers,
      collect(this: Counter<'result' | 'reason'>) {
        this.reset();
        this.inc({ result: 'accepted', reason: '' }, self.accepted);
        for (const [reason, n] of self.refused.entries()) this.inc({ result: 'refused', reason }, n);
      },
    });
    new prom.Counter({
      name: 'mtls_gateway_requests_total',
      help: `Requests proxied to the upstream, by status class (0: no response) and client certificate name (the first ${this.maxClients} names, then ${OTHER_CLIENTS})`,
      labelNames: ['status_class', 'client'],
      registers,
      collect(this: Counter<'status_class' | 'client'>) {
        this.reset();
        for (const [client, counts] of self.requests) {
          counts.forEach((n, i) => {
            if (n > 0) this.inc({ status_class: STATUS_CLASSES[i] ?? '0', client }, n);
          });
        }
      },
    });
    new prom.Counter({
      name: 'mtls_gateway_requests_refused_total',
      help: 'Requests answered by the gateway without reaching the upstream, by reason',
      labelNames: ['reason'],
      registers,
      collect(this: Counter<'reason'>) {
        this.reset();
        for (const [reason, n] of self.requestRefused.entries()) this.inc({ reason }, n);
      },
    });
    new prom.Gauge({
      name: 'mtls_gateway_up',
      help: '1 while the gateway runs',
      registers,
      collect(this: Gauge) {
        this.set(src.gatewayRunning() ? 1 : 0);
      },
    });
    new prom.Gauge({
      name: 'mtls_gateway_connections',
      help: 'Live authenticated client connections',
      registers,
      collect(this: Gauge) {
        this.set(src.liveConnections());
      },
    });
    new prom.Gauge({
      name: 'mtls_console_expiry_seconds',
      help: 'Seconds until the CA certificate or the server certificate expires, or the CRL passes its nextUpdate (negative: past)',
      labelNames: ['object'],
      registers,
      collect(this: Gauge<'object'>) {
        this.reset();
        let e: ReturnType<MetricsSources['expiries']>;
        try {
          e = src.expiries();
        } catch {
          return; // no CA yet, or a database we cannot read: no figure rather than a wrong one
        }
        const now = src.now();
        this.set({ object: 'ca' }, (e.ca - now) / 1000);
        this.set({ object: 'server_certificate' }, (e.server - now) / 1000);
        this.set({ object: 'crl' }, (e.crl - now) / 1000);
      },
    });
    new prom.Counter({
      name: 'mtls_console_server_renewals_total',
      help: 'Automatic server certificate renewals attempted by this process, by result',
      labelNames: ['result'],
      registers,
      collect(this: Counter<'result'>) {
        this.reset();
        this.inc({ result: 'renewed' }, self.renewals.renewed);
        this.inc({ result: 'failed' }, self.renewals.failed);
      },
    });
    new prom.Gauge({
      name: 'mtls_console_server_renewal_failing',
      help: '1 while the current server certificate has a recorded renewal failure',
      registers,
      collect(this: Gauge) {
        let failing = false;
        try {
          failing = src.renewalFailing();
        } catch {
          // unreadable: reported as not failing, the expiry gauge still tells the truth
        }
        this.set(failing ? 1 : 0);
      },
    });
    new prom.Gauge({
      name: 'mtls_console_audit_queue_records',
      help: 'Gateway audit records waiting to be written to the state database',
      registers,
      collect(this: Gauge) {
        this.set(src.auditWrites().queued);
      },
    });
    new prom.Gauge({
      name: 'mtls_console_audit_writes_ok',
      help: '1 while gateway audit records are being written; 0 while writes fail (requests are held unless fail-open)',
      registers,
      collect(this: Gauge) {
        this.set(src.auditWrites().ok ? 1 : 0);
      },
    });
  }
}
