import { z } from 'zod';

/** The load worker's last line (bench/gateway/load-worker.ts); the parent checks it with this schema. */
export const loadSummarySchema = z.object({
  /** 200 responses completed inside the window. */
  count: z.number().int().nonnegative(),
  /** Every 200 response, including the warm-up before the window and the drain after it. */
  total: z.number().int().nonnegative(),
  /** Non-200 responses, broken responses, dropped connections and failed handshakes. */
  errors: z.number().int().nonnegative(),
  /** Connections opened, including reconnects after an error. */
  connects: z.number().int().nonnegative(),
  firstError: z.string().optional(),
  /** LatencyHistogram pairs of the in-window requests. */
  hist: z.array(z.tuple([z.number().int(), z.number().int().positive()])),
});
export type LoadSummary = z.infer<typeof loadSummarySchema>;
