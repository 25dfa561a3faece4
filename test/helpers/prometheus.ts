import http from 'node:http';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { z } from 'zod';

/**
 * A scrape as Prometheus would make it (a plain HTTP GET), parsed by parse-prometheus-text-format (a
 * port of Prometheus's own text parser) and checked: that parser keeps values as strings and takes
 * any word, so every sample must also be a number here.
 */
const number = z
  .string()
  .regex(/^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/, 'not a sample value')
  .transform((s) => (s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s)));
const labels = z.record(z.string(), z.string()).optional();
const family = z.discriminatedUnion('type', [
  z.object({
    name: z.string(),
    help: z.string(),
    type: z.enum(['COUNTER', 'GAUGE', 'UNTYPED']),
    metrics: z.array(z.object({ value: number, labels }).strict()),
  }),
  z.object({
    name: z.string(),
    help: z.string(),
    type: z.literal('HISTOGRAM'),
    metrics: z.array(
      z.object({ buckets: z.record(z.string(), number), count: number, sum: number, labels }).strict(),
    ),
  }),
]);
const exposition = z.array(family);
export type MetricFamily = z.infer<typeof family>;

export interface Scrape {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

export function scrape(url: string): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', text }),
        );
      })
      .on('error', reject);
  });
}

export class Metrics {
  private constructor(readonly families: readonly MetricFamily[]) {}

  static parse(text: string): Metrics {
    return new Metrics(exposition.parse(parsePrometheusTextFormat(text)));
  }

  family(name: string): MetricFamily {
    const f = this.families.find((x) => x.name === name);
    if (!f) throw new Error(`no metric ${name} in the scrape`);
    return f;
  }

  /** The sample of a counter or gauge with exactly these labels (0 when the series is absent). */
  value(name: string, want: Readonly<Record<string, string>> = {}): number {
    const f = this.family(name);
    if (f.type === 'HISTOGRAM') throw new Error(`${name} is a histogram`);
    const m = f.metrics.find((x) => sameLabels(x.labels ?? {}, want));
    return m?.value ?? 0;
  }

  /** Every series of a counter or gauge, as `label=value,…` → sample, for whole-family assertions. */
  series(name: string): Record<string, number> {
    const f = this.family(name);
    if (f.type === 'HISTOGRAM') throw new Error(`${name} is a histogram`);
    const out: Record<string, number> = {};
    for (const m of f.metrics) {
      const key = Object.entries(m.labels ?? {})
        .filter(([, v]) => v !== '')
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      out[key] = m.value;
    }
    return out;
  }

  histogram(name: string): { buckets: Record<string, number>; count: number; sum: number } {
    const f = this.family(name);
    if (f.type !== 'HISTOGRAM' || f.metrics.length !== 1) throw new Error(`${name} is not one histogram`);
    const m = f.metrics[0]!;
    return { buckets: m.buckets, count: m.count, sum: m.sum };
  }
}

function sameLabels(have: Readonly<Record<string, string>>, want: Readonly<Record<string, string>>): boolean {
  const keys = new Set([...Object.keys(have), ...Object.keys(want)]);
  for (const k of keys) if ((have[k] ?? '') !== (want[k] ?? '')) return false;
  return true;
}
