/** The parser ships no types; its result is checked with zod in prometheus.ts before use. */
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown;
}
