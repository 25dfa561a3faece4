import type { AuditRecord } from '../../../shared/model';

/** A record for tests: CN and serial default to the client actor's, as the gateway writes them. */
export function rec(
  seq: number,
  type: string,
  actor: AuditRecord['actor'],
  extra: Partial<Pick<AuditRecord, 'time' | 'cn' | 'serial' | 'details'>> = {},
): AuditRecord {
  const client = actor.kind === 'client' ? actor : null;
  return {
    seq,
    time: extra.time ?? '2025-01-01T00:00:00.000Z',
    type,
    actor,
    cn: extra.cn !== undefined ? extra.cn : (client?.cn ?? null),
    serial: extra.serial !== undefined ? extra.serial : (client?.serial ?? null),
    details: extra.details ?? {},
    prev: '0'.repeat(64),
    hash: seq.toString(16).padStart(64, '0'),
  };
}
