import type { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import { appendAudit } from '../audit';
import { ConsoleError, isConsoleError } from '../errors';
import { summarizeCert, type CertSummary } from '../pki';
import { renewServer, systemAudit, type OpContext } from './ca-ops';
import { readCa, readCurrentServer, readSetting, writeSetting } from './state';
import { renewalDueAt, renewalState, type RenewalState } from '../../shared/renewal';
import type { ServerRenewalFailure } from '../../shared/model';
import { DAY_MS } from '../../shared/validation';

/**
 * Automatic renewal of the gateway's server certificate (issue 9), run by every long-lived process
 * on a state dir (`serve`, the app): once 2/3 of its lifetime has passed, a new key and certificate
 * with the same SANs and lifetime replace it, and the running gateway takes them hot
 * (GatewayHost.refreshTls here; the data_version poll in any other process). A failure (locked vault,
 * expired CA, full disk) is recorded where every process sees it, audited, and retried with backoff.
 */

export interface RenewalTiming {
  /** First retry after a failure; each further failure doubles it, up to retryMaxMs. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
}

export const DEFAULT_RENEWAL_TIMING: RenewalTiming = { retryBaseMs: 60_000, retryMaxMs: 60 * 60_000 };

/** The settings row holding the last failure; any process on the state dir may write it. */
const FAILURE_KEY = 'serverRenewal';

const isoDate = z.string().datetime({ offset: true });
const failureSchema = z
  .object({
    code: z.string().max(64),
    message: z.string().max(2000),
    serial: z.string().regex(/^[0-9a-f]+$/),
    firstFailedAt: isoDate,
    lastFailedAt: isoDate,
    attempts: z.number().int().positive(),
    nextAttemptAt: isoDate,
  })
  .strict();

/** The recorded failure, or null (none, cleared, or unreadable: a bad row must not hide the cert). */
function readFailureRow(db: DatabaseSync): ServerRenewalFailure | null {
  let stored: unknown;
  try {
    stored = readSetting(db, FAILURE_KEY);
  } catch {
    return null; // not JSON: rewritten by the next failure, cleared by the next renewal
  }
  const parsed = failureSchema.safeParse(stored);
  return parsed.success ? parsed.data : null;
}

/**
 * The failure that still applies: one recorded against the current server certificate. A renewal
 * or a manual rotation by anyone since makes an older record moot.
 */
export function readRenewalFailure(db: DatabaseSync): ServerRenewalFailure | null {
  const failure = readFailureRow(db);
  return failure && failure.serial === readCurrentServer(db).serial ? failure : null;
}

export interface ServerRenewalOptions {
  readonly ctx: OpContext;
  readonly timing?: Partial<RenewalTiming>;
  /** After a commit of ours: the caller pushes the new pair to its gateway and its subscribers. */
  readonly onRenewed: () => Promise<void>;
  /** After a failure was recorded (or could not be): the status changed. */
  readonly onFailed: () => Promise<void>;
  /** One line for the log (`serve`'s stderr, the app's console). */
  readonly log: (line: string) => void;
}

export type RenewalOutcome =
  | { readonly kind: 'not-due'; readonly state: RenewalState; readonly dueAt: number }
  | { readonly kind: 'backing-off'; readonly nextAttemptAt: number }
  | { readonly kind: 'renewed'; readonly serial: string; readonly notAfter: string }
  /** Another process (or an operator's rotation) replaced the certificate first. */
  | { readonly kind: 'renewed-elsewhere' }
  | { readonly kind: 'failed'; readonly failure: ServerRenewalFailure };

export class ServerRenewal {
  private readonly timing: RenewalTiming;
  /** This process's view: the last failure it saw of its own, for status when the disk refused it. */
  private failure: ServerRenewalFailure | null = null;
  /** Not before this (epoch ms, this process's clock) after a failure; 0 = at once. */
  private nextAttemptAt = 0;
  private running: Promise<RenewalOutcome> | null = null;

  constructor(private readonly opts: ServerRenewalOptions) {
    this.timing = { ...DEFAULT_RENEWAL_TIMING, ...opts.timing };
  }

  /** The failure to show: the newest of the recorded one and this process's own. */
  currentFailure(db: DatabaseSync): ServerRenewalFailure | null {
    const recorded = readRenewalFailure(db);
    const mine = this.failure && this.failure.serial === readCurrentServer(db).serial ? this.failure : null;
    if (!recorded) return mine;
    if (!mine) return recorded;
    return Date.parse(mine.lastFailedAt) > Date.parse(recorded.lastFailedAt) ? mine : recorded;
  }

  /** Renews now if the certificate is due and no backoff holds; never throws. One at a time. */
  check(opts: { ignoreBackoff?: boolean } = {}): Promise<RenewalOutcome> {
    if (opts.ignoreBackoff) this.nextAttemptAt = 0;
    this.running ??= this.attempt().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * Checks now and then again when the certificate falls due or a retry is owed, at least every
   * `capMs` (so a certificate replaced by another process, or a test's moved clock, is seen).
   */
  start(capMs: number): () => void {
    let timer: NodeJS.Timeout | null = null;
    let stopped = false;
    const loop = async (): Promise<void> => {
      // attempt() reports its own failures; this only keeps the timer alive whatever happens.
      const outcome = await this.check().catch((): RenewalOutcome => ({
        kind: 'backing-off',
        nextAttemptAt: 0,
      }));
      if (stopped) return;
      const now = this.opts.ctx.now().getTime();
      const wakeAt =
        outcome.kind === 'not-due'
          ? outcome.dueAt
          : outcome.kind === 'backing-off'
            ? outcome.nextAttemptAt
            : outcome.kind === 'failed'
              ? Date.parse(outcome.failure.nextAttemptAt)
              : now; // just renewed: look again at the next cap
      const wait = Math.min(capMs, Math.max(1_000, wakeAt - now));
      timer = setTimeout(() => void loop(), wait);
      timer.unref();
    };
    void loop();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }

  private async attempt(): Promise<RenewalOutcome> {
    const { ctx } = this.opts;
    let current: { serial: string; certPem: string };
    let cert: CertSummary;
    let caNotAfter: Date;
    try {
      const db = ctx.state();
      let caPem: string;
      ({ current, caPem } = db.read(() => ({
        current: readCurrentServer(db.db),
        caPem: readCa(db.db).certPem,
      })));
      cert = summarizeCert(current.certPem);
      caNotAfter = summarizeCert(caPem).notAfter;
    } catch (e) {
      // No CA yet: nothing to renew. A database we cannot read: the status says why.
      if (!isConsoleError(e) || e.code !== 'NOT_INITIALIZED') {
        this.opts.log(`server certificate renewal: cannot read the state: ${(e as Error).message}`);
      }
      return { kind: 'not-due', state: 'ok', dueAt: ctx.now().getTime() + this.timing.retryMaxMs };
    }
    const now = ctx.now();
    const verdict = renewalState(cert, now);
    if (verdict === 'ok') {
      this.failure = null;
      this.nextAttemptAt = 0;
      return { kind: 'not-due', state: verdict, dueAt: renewalDueAt(cert) };
    }
    if (now.getTime() < this.nextAttemptAt && this.failure?.serial === current.serial) {
      return { kind: 'backing-off', nextAttemptAt: this.nextAttemptAt };
    }
    const lifetimeMs = cert.notAfter.getTime() - cert.notBefore.getTime();
    let renewed: Awaited<ReturnType<typeof renewServer>>;
    try {
      // A leaf never outlives its CA: once the certificate ends with the CA, renewing cannot extend it.
      if (cert.notAfter.getTime() >= caNotAfter.getTime() && caNotAfter.getTime() > now.getTime()) {
        throw new ConsoleError(
          'CA_EXPIRED',
          `the server certificate already ends with the CA certificate (${caNotAfter.toISOString()}); renewing cannot extend it (a CA rollover is needed)`,
        );
      }
      renewed = await renewServer(ctx, {
        replaces: current.serial,
        hosts: cert.sans,
        // Same lifetime: whole days, as every server certificate is issued (init, rotate-server).
        days: Math.max(1, Math.round(lifetimeMs / DAY_MS)),
        alsoInTx: (db) => writeSetting(db, FAILURE_KEY, null),
      });
    } catch (e) {
      const failure = this.recordFailure(current.serial, e);
      await this.opts.onFailed().catch(() => undefined);
      return { kind: 'failed', failure };
    }
    this.failure = null;
    this.nextAttemptAt = 0;
    if (!renewed) return { kind: 'renewed-elsewhere' };
    this.opts.log(
      `server certificate renewed automatically (${verdict}): serial ${renewed.serial} replaces ${renewed.previousSerial}, valid until ${renewed.notAfter}`,
    );
    // Committed: a gateway that cannot load it now still gets it from the data_version poll.
    await this.opts
      .onRenewed()
      .catch((e: unknown) =>
        this.opts.log(
          `server certificate renewed, but the running gateway was not updated: ${(e as Error).message}`,
        ),
      );
    return { kind: 'renewed', serial: renewed.serial, notAfter: renewed.notAfter };
  }

  /** Audits the failure and records it for every process (best effort: a full disk refuses that too). */
  private recordFailure(serial: string, e: unknown): ServerRenewalFailure {
    const { ctx } = this.opts;
    const now = ctx.now();
    const code = isConsoleError(e) ? e.code : 'INTERNAL';
    // Bounded like the stored row (failureSchema), so a long message never makes the record unreadable.
    const message = (e instanceof Error ? e.message : String(e)).slice(0, 2000);
    const build = (previous: ServerRenewalFailure | null): ServerRenewalFailure => {
      const same = previous?.serial === serial ? previous : null;
      const attempts = (same?.attempts ?? 0) + 1;
      const delay = Math.min(
        this.timing.retryBaseMs * 2 ** Math.min(attempts - 1, 30),
        this.timing.retryMaxMs,
      );
      return {
        code,
        message,
        serial,
        firstFailedAt: same?.firstFailedAt ?? now.toISOString(),
        lastFailedAt: now.toISOString(),
        attempts,
        nextAttemptAt: new Date(now.getTime() + delay).toISOString(),
      };
    };
    let failure: ServerRenewalFailure;
    try {
      const state = ctx.state();
      failure = state.tx(() => {
        const f = build(readFailureRow(state.db) ?? this.failure);
        writeSetting(state.db, FAILURE_KEY, f);
        appendAudit(state.db, [
          systemAudit(ctx, 'server.renewal.failed', {
            serial,
            code: f.code,
            message: f.message,
            attempts: f.attempts,
            nextAttemptAt: f.nextAttemptAt,
          }),
        ]);
        return f;
      });
    } catch (writeError) {
      failure = build(this.failure);
      this.opts.log(
        `server certificate renewal: the failure could not be recorded either: ${(writeError as Error).message}`,
      );
    }
    this.failure = failure;
    this.nextAttemptAt = Date.parse(failure.nextAttemptAt);
    this.opts.log(
      `server certificate renewal FAILED (attempt ${failure.attempts}, certificate ${serial}): ${message}; retrying at ${failure.nextAttemptAt}`,
    );
    return failure;
  }
}
