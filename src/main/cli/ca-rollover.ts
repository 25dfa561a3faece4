import type { CaRolloverStatus } from '../../shared/model';
import type { Command } from './commands';
import { usageError } from './usage';

/** `mtls-console ca rollover start|status|retire [--revoke-remaining]` (issue 9; service/rollover.ts). */
export const caCommand: Command = {
  name: 'ca',
  summary: 'staged CA rollover: start (new CA, cross-signed), status (the plan), retire (the old CA)',
  subcommands: ['rollover start', 'rollover status', 'rollover retire', 'rollover'],
  options: {
    'revoke-remaining': {
      type: 'boolean',
      description: 'retire: revoke (superseded) the old CA’s client certificates that are still valid',
    },
    json: { type: 'boolean', description: 'print JSON' },
  },
  async run({ values, sub, service, out }) {
    const json = values.json === true;
    if (values['revoke-remaining'] === true && sub !== 'rollover retire') {
      throw usageError('--revoke-remaining goes with `ca rollover retire`');
    }
    switch (sub ?? 'rollover status') {
      case 'rollover':
      case 'rollover status': {
        const s = await service.rolloverStatus();
        out(json ? JSON.stringify(s, null, 2) : formatRollover(s));
        return;
      }
      case 'rollover start': {
        const s = await service.startRollover();
        out(
          json
            ? JSON.stringify(s, null, 2)
            : `CA rollover started: new CA ${s.current.name} (serial ${s.current.serial}), cross-signed both ways; the gateway trusts both roots and serves the new server chain\n${formatRollover(s)}`,
        );
        return;
      }
      case 'rollover retire': {
        const s = await service.retireRollover(
          values['revoke-remaining'] === true ? { revokeRemaining: true } : {},
        );
        const revoked =
          s.revoked.length > 0 ? `; revoked ${s.revoked.length} (superseded): ${s.revoked.join(', ')}` : '';
        out(
          json
            ? JSON.stringify(s, null, 2)
            : `old CA ${s.old?.name ?? ''} retired: the gateway trusts ${s.current.name} only${revoked}\n${formatRollover(s)}`,
        );
        return;
      }
      default:
        throw usageError(`ca: unknown sub-command ${sub ?? ''}; use \`ca rollover start|status|retire\``);
    }
  },
};

/** The plan as lines: one per phase with its date, and who is still on the old CA. */
export function formatRollover(s: CaRolloverStatus): string {
  if (s.state === 'idle') {
    return `CA rollover: none (issuing CA ${s.current.name}, serial ${s.current.serial}, until ${s.current.notAfter})`;
  }
  const lines = [
    `CA rollover: ${s.state === 'rolling' ? 'running' : 'done'} (started ${s.startedAt ?? '?'} by ${s.startedBy ?? '?'})`,
    `  new CA: ${s.current.name} (serial ${s.current.serial}, until ${s.current.notAfter})`,
    ...(s.old
      ? [
          `  old CA: ${s.old.name} (serial ${s.old.serial}${s.old.retiredAt ? `, retired ${s.old.retiredAt}` : ''})`,
        ]
      : []),
    ...s.phases.map((p) => `  [${p.done ? 'x' : ' '}] ${p.label.padEnd(34)} ${p.at ?? ''}`.trimEnd()),
  ];
  if (s.clients.onOldCa > 0) {
    const named = s.clients.remaining.map((c) => `${c.name} (${c.serial})`).join(', ');
    lines.push(`  still on the old CA: ${s.clients.onOldCa}: ${named}`);
  }
  return lines.join('\n');
}

/** One line for `status`: the phase of the running (or last) rollover. */
export function rolloverLine(s: CaRolloverStatus): string | null {
  if (s.state === 'idle') return null;
  if (s.state === 'done')
    return `CA rollover: done (old CA ${s.old?.name ?? '?'} retired ${s.old?.retiredAt ?? ''})`;
  const next = s.phases.find((p) => !p.done);
  return `CA rollover: running, ${s.clients.rolled} of ${s.clients.total} clients rolled; next: ${next?.label ?? 'retire'} (mtls-console ca rollover status)`;
}
