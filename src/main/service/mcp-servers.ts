import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import { isProcessDead, selfIdentity } from '../store/proc';
import { readSetting, writeSetting } from './state';
import { MCP_PERMISSIONS, type McpPermission, type McpServerInfo } from '../../shared/model';

/**
 * The MCP servers running on a state dir (issue 11). Each `mtls-console mcp` records itself here when
 * its client connects and removes itself when it stops, so `status` in any process (the CLI, the app)
 * shows who may issue or revoke over MCP right now. A server killed with -9 cannot remove itself, so
 * readers drop entries whose process is gone (same check as the pending bundles).
 */
const SETTING = 'mcp.servers';

const entrySchema = z
  .object({
    id: z.string().min(1).max(64),
    owner: z.object({ pid: z.number().int(), hostname: z.string(), startTime: z.string().optional() }),
    client: z.string().max(200),
    allow: z.array(z.enum(MCP_PERMISSIONS)),
    bundleDir: z.string().nullable(),
    since: z.string(),
  })
  .strict();
type Entry = z.infer<typeof entrySchema>;

/** Every well-formed entry; a malformed one (or setting) is dropped: this is a notice board, not state. */
function readEntries(db: DatabaseSync): Entry[] {
  let stored: unknown;
  try {
    stored = readSetting(db, SETTING);
  } catch {
    return [];
  }
  if (!Array.isArray(stored)) return [];
  return stored.flatMap((e) => {
    const r = entrySchema.safeParse(e);
    return r.success ? [r.data] : [];
  });
}

const alive = (e: Entry): boolean => !isProcessDead(e.owner);

export function liveMcpServers(db: DatabaseSync): McpServerInfo[] {
  return readEntries(db)
    .filter(alive)
    .map((e) => ({
      pid: e.owner.pid,
      hostname: e.owner.hostname,
      client: e.client,
      allow: e.allow,
      bundleDir: e.bundleDir,
      since: e.since,
    }));
}

export interface McpServerStart {
  readonly client: string;
  readonly allow: readonly McpPermission[];
  readonly bundleDir: string | null;
  readonly since: Date;
}

/** Adds this process's entry (pruning dead ones) in the caller's transaction; returns its id. */
export function addMcpServer(db: DatabaseSync, s: McpServerStart): string {
  const id = randomUUID();
  const entry: Entry = {
    id,
    owner: selfIdentity(),
    client: s.client,
    allow: [...s.allow],
    bundleDir: s.bundleDir,
    since: s.since.toISOString(),
  };
  writeSetting(db, SETTING, [...readEntries(db).filter(alive), entry]);
  return id;
}

/** Removes one entry (and dead ones) in the caller's transaction; true when it was there. */
export function removeMcpServer(db: DatabaseSync, id: string): boolean {
  const before = readEntries(db);
  writeSetting(
    db,
    SETTING,
    before.filter((e) => e.id !== id && alive(e)),
  );
  return before.some((e) => e.id === id);
}
