import type { RenewalState } from '../../shared/renewal';
import type { StatusInfo } from '../../shared/model';

/** One thing that needs the operator (issue 10): a native notification once, and a badge while it lasts. */
export interface AttentionItem {
  /** The condition, stable while it holds: a notification is shown once per key. */
  readonly key: string;
  /** What it is about; the badge counts subjects, so an escalation does not count twice. */
  readonly subject: 'ca' | 'server' | 'crl' | 'renewal' | 'gateway';
  readonly title: string;
  readonly body: string;
}

/** How long a published CRL is valid, and the share left when it needs someone (upkeep republishes at half). */
const CRL_VALIDITY_DAYS = 7;
const CRL_WARN_DAYS = CRL_VALIDITY_DAYS / 3;

function left(days: number): string {
  if (days < 0) return 'has expired';
  if (days < 1) return 'expires within a day';
  return `expires in ${Math.floor(days)} day${Math.floor(days) === 1 ? '' : 's'}`;
}

const WORSE: Record<RenewalState, number> = { ok: 0, due: 1, overdue: 2, expired: 3 };

/**
 * What needs attention in a status, by the lifetime rule the Dashboard colours by (src/shared/renewal.ts):
 * the CA from its warning window on (nothing renews it by itself); the server certificate once it is
 * overdue (it is renewed automatically when due, so only a renewal that did not happen needs anyone);
 * the CRL when under a third of its validity is left (upkeep republishes it at half); a failed automatic
 * renewal; a gateway that stopped without being asked to.
 */
export function attentionItems(status: StatusInfo, now: Date = new Date()): AttentionItem[] {
  const out: AttentionItem[] = [];
  if (!status.initialized) return out;
  const { ca, server, crl, serverRenewalFailure: failure } = status;
  if (ca && WORSE[ca.renewal] >= WORSE.due) {
    out.push({
      key: `ca:${ca.serial}:${ca.renewal}`,
      subject: 'ca',
      title:
        ca.renewal === 'expired' ? 'The CA certificate has expired' : 'The CA certificate needs renewing',
      body: `${ca.subject} ${left(ca.daysLeft)}. Client and server certificates stop working with it.`,
    });
  }
  if (server && WORSE[server.renewal] >= WORSE.overdue) {
    out.push({
      key: `server:${server.serial}:${server.renewal}`,
      subject: 'server',
      title:
        server.renewal === 'expired'
          ? 'The server certificate has expired'
          : 'The server certificate was not renewed',
      body: `The gateway's certificate ${left(server.daysLeft)}. Rotate it from the Dashboard.`,
    });
  }
  if (crl) {
    const days = (Date.parse(crl.nextUpdate) - now.getTime()) / 86_400_000;
    if (days < CRL_WARN_DAYS) {
      out.push({
        key: `crl:${crl.crlNumber}:${days < 0 ? 'expired' : 'due'}`,
        subject: 'crl',
        title: days < 0 ? 'The published CRL has expired' : 'The published CRL runs out soon',
        body: `CRL #${crl.crlNumber} ${left(days)}; verifiers such as nginx then refuse every client.`,
      });
    }
  }
  if (failure) {
    out.push({
      key: `renewal:${failure.serial}`,
      subject: 'renewal',
      title: 'Automatic renewal of the server certificate failed',
      body: `${failure.message} (${failure.attempts} attempt${failure.attempts === 1 ? '' : 's'}; retried automatically).`,
    });
  }
  if (status.gateway.state.kind === 'crashed') {
    out.push({
      key: 'gateway:crashed',
      subject: 'gateway',
      title: 'The gateway stopped unexpectedly',
      body: status.gateway.state.restartAt
        ? `${status.gateway.state.message}. It restarts by itself.`
        : status.gateway.state.message,
    });
  }
  return out;
}

/**
 * Remembers which conditions were already announced: each is notified once while it holds, and
 * again only after it cleared and came back (a second crash, a CA entering a worse state).
 */
export class AttentionTracker {
  private active = new Set<string>();

  /** The items to notify now, and how many subjects need attention (the badge). */
  update(status: StatusInfo, now: Date = new Date()): { fresh: AttentionItem[]; count: number } {
    const items = attentionItems(status, now);
    const fresh = items.filter((i) => !this.active.has(i.key));
    this.active = new Set(items.map((i) => i.key));
    return { fresh, count: new Set(items.map((i) => i.subject)).size };
  }
}
