/**
 * Entry of the gateway child process (bundled as out/main/gateway.js). It holds the server key
 * and the trust bundle it is sent, never the CA key, and exits when its parent link closes so it
 * is never orphaned (DESIGN.md §2).
 */
import { Gateway } from './gateway';
import { detectParentLink, type ParentLink } from './parent-link';
import {
  parentToGatewaySchema,
  type GatewayAuditEntry,
  type GatewayToParent,
  type LogLevel,
  type ParentToGateway,
} from './protocol';

/** Audit entries are batched: one message per AUDIT_FLUSH_MS or per AUDIT_BATCH entries. */
const AUDIT_FLUSH_MS = 100;
const AUDIT_BATCH = 500;

class Outbox {
  private audits: GatewayAuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly link: ParentLink) {}

  send(msg: GatewayToParent): void {
    this.link.send(msg);
  }

  audit(entry: GatewayAuditEntry): void {
    this.audits.push(entry);
    if (this.audits.length >= AUDIT_BATCH) this.flushAudit();
    else this.timer ??= setTimeout(() => this.flushAudit(), AUDIT_FLUSH_MS);
  }

  log(level: LogLevel, line: string): void {
    this.send({ type: 'log', level, line });
  }

  flushAudit(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.audits.length === 0) return;
    const entries = this.audits;
    this.audits = [];
    this.send({ type: 'audit', entries });
  }

  async drain(): Promise<void> {
    this.flushAudit();
    await this.link.flush();
  }
}

function main(): void {
  const link = detectParentLink();
  if (!link) {
    process.stderr.write('gateway: no parent link (start me through the supervisor)\n');
    process.exit(2);
  }
  const out = new Outbox(link);
  let gateway: Gateway | undefined;
  let exiting = false;

  const exit = async (code: number): Promise<void> => {
    if (exiting) return;
    exiting = true;
    await out.drain();
    process.exit(code);
  };

  const fatal = (message: string): void => {
    out.send({ type: 'fatal', message });
    void exit(1);
  };

  process.on('uncaughtException', (err) => fatal(`uncaught: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => fatal(`unhandled rejection: ${String(err)}`));
  // No parent, no gateway: nobody could stop it or read its audit records.
  link.onClose(() => process.exit(0));

  const handle = (msg: ParentToGateway): void => {
    switch (msg.type) {
      case 'start': {
        if (gateway) return out.log('warn', 'ignored a second start message');
        try {
          gateway = new Gateway(msg, {
            audit: (e) => out.audit(e),
            connections: (list) => out.send({ type: 'connections', list }),
            log: (level, line) => out.log(level, line),
          });
        } catch (err) {
          return fatal(`cannot start: ${(err as Error).message}`);
        }
        gateway.start().then(
          (addr) => out.send({ type: 'ready', ...addr }),
          (err: Error) => fatal(`cannot listen on ${msg.config.listen}: ${err.message}`),
        );
        return;
      }
      case 'tls':
        if (!gateway) return out.log('warn', 'tls update before start ignored');
        try {
          gateway.updateTls(msg);
        } catch (err) {
          out.log('error', `tls update rejected, keeping the previous material: ${(err as Error).message}`);
        }
        return;
      case 'revocations': {
        if (!gateway) return out.log('warn', 'revocations before start ignored');
        const closed = gateway.updateRevocations(msg.serials);
        out.log(
          'info',
          `revocation set now ${msg.serials.length} serials; closed ${closed} live connections`,
        );
        return;
      }
      case 'kill': {
        const target = msg.id !== undefined ? { id: msg.id } : { serial: msg.serial ?? '' };
        const count = gateway ? gateway.kill(target) : 0;
        out.send({ type: 'killed', ref: msg.ref, count });
        return;
      }
      case 'config':
        if (!gateway) return out.log('warn', 'config before start ignored');
        try {
          gateway.reconfigure(msg.config);
        } catch (err) {
          out.log('error', `settings rejected, keeping the previous ones: ${(err as Error).message}`);
        }
        return;
      case 'hold':
        if (!gateway) return out.log('warn', 'hold before start ignored');
        gateway.hold(msg.on ? (msg.reason ?? 'audit records cannot be written') : null);
        return;
      case 'stop':
        if (!gateway) return void exit(0);
        void gateway.stop(msg.graceMs).then(() => exit(0));
        return;
      default: {
        const never: never = msg;
        throw new Error(`unhandled message ${JSON.stringify(never)}`);
      }
    }
  };

  link.onMessage((raw) => {
    const parsed = parentToGatewaySchema.safeParse(raw);
    if (!parsed.success) {
      out.log('error', `rejected a malformed message: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return;
    }
    handle(parsed.data);
  });
}

main();
