/**
 * Entry of the gateway child process (bundled as out/main/gateway.js). It holds the server key
 * and the trust bundle it is sent, never the CA key, and exits when its parent link closes so it
 * is never orphaned (DESIGN.md §2).
 */
import { Gateway } from './gateway';
import { Outbox } from './outbox';
import { detectParentLink } from './parent-link';
import { checkParentMessage, type ParentToGateway, type RenewOutcome } from './wire';

function main(): void {
  const link = detectParentLink();
  if (!link) {
    process.stderr.write('gateway: no parent link (start me through the supervisor)\n');
    process.exit(2);
  }
  const out = new Outbox(link);
  let gateway: Gateway | undefined;
  // Renewals waiting for the parent's answer; the audit batch goes first so the request that asked is recorded.
  const renewals = new Map<number, (outcome: RenewOutcome) => void>();
  let renewRef = 0;
  const renew = (req: { serial: string; csrDer?: Buffer }): Promise<RenewOutcome> =>
    new Promise((resolve) => {
      const ref = ++renewRef;
      renewals.set(ref, resolve);
      out.send({
        type: 'renew',
        ref,
        serial: req.serial,
        ...(req.csrDer ? { csr: req.csrDer.toString('base64') } : {}),
      });
    });
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
            renew,
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
      case 'renewed': {
        const resolve = renewals.get(msg.ref);
        renewals.delete(msg.ref);
        if (msg.ok) resolve?.({ ok: true, certPem: msg.certPem, caPem: msg.caPem });
        else resolve?.({ ok: false, status: msg.status, error: msg.error });
        return;
      }
      case 'credentials':
        if (!gateway) return out.log('warn', 'credentials before start ignored');
        gateway.setCredentials(msg.list);
        // Names only: values never reach a log line.
        out.log('info', `upstream headers now: ${msg.list.map((c) => c.name).join(', ') || 'none'}`);
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
    // Checked by hand, not with zod: the child loads no zod (issue 12).
    const msg = checkParentMessage(raw);
    if (typeof msg === 'string') {
      out.log('error', `rejected a malformed message: ${msg}`);
      return;
    }
    handle(msg);
  });
}

main();
