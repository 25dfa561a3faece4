import { z } from 'zod';
import { ConsoleError } from '../errors';
import { appendAudit } from '../audit';
import type { StateDb } from '../db';
import type { AuditSigner } from '../audit';
import type { VaultResolver } from './vaults';
import { audit, type OpContext } from './ca-ops';
import { readMeta, readSetting, writeSetting } from './state';
import {
  upstreamCredentialNameSchema,
  type UpstreamCredentialInfo,
  type UpstreamCredentialInput,
} from '../../shared/credentials';

/**
 * Upstream credentials (issue 11 §3): header values the gateway adds to proxied requests so that
 * clients never hold the upstream's token. Values are sealed by the vault in the settings table and
 * unsealed only to hand them to the gateway process; names and methods are public, values never
 * reach the audit log, a log line, the renderer or a file in plain text.
 */

const SETTING = 'upstream_credentials';

const storedSchema = z.array(
  z
    .object({
      name: upstreamCredentialNameSchema,
      methods: z
        .array(z.string().regex(/^[A-Z]{1,20}$/))
        .max(16)
        .optional(),
      sealed: z.base64().max(65_536),
      setAt: z.iso.datetime({ offset: true }),
    })
    .strict(),
);
type Stored = z.infer<typeof storedSchema>;

/** What the gateway process gets: the values in clear, over its private channel only. */
export interface UnsealedCredential {
  readonly name: string;
  readonly value: string;
  readonly methods?: string[];
}

function readStored(state: StateDb): Stored {
  return parseStored(state.read(() => readSetting(state.db, SETTING)));
}

/** Inside a write transaction (where state.read() would nest one). */
function readStoredInTx(state: StateDb): Stored {
  return parseStored(readSetting(state.db, SETTING));
}

function parseStored(raw: unknown): Stored {
  if (raw === undefined) return [];
  const parsed = storedSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConsoleError('CORRUPT_STATE', `state database setting ${SETTING} is malformed`);
  }
  return parsed.data;
}

const key = (name: string): string => name.toLowerCase().replace(/_/g, '-');

export function listCredentials(state: StateDb): UpstreamCredentialInfo[] {
  return readStored(state).map((c) => ({
    name: c.name,
    ...(c.methods ? { methods: c.methods } : {}),
    setAt: c.setAt,
  }));
}

/** A fingerprint of the stored list (sealed bytes included), to notice changes made by any process. */
export function credentialsStamp(state: StateDb): string {
  const raw = state.read(() => readSetting(state.db, SETTING));
  return raw === undefined ? '' : JSON.stringify(raw);
}

export async function setCredential(
  ctx: OpContext,
  state: StateDb,
  signer: AuditSigner | null,
  input: UpstreamCredentialInput,
): Promise<UpstreamCredentialInfo> {
  const meta = state.read(() => readMeta(state.db));
  const vault = await ctx.vaults.open(meta.vaultBackend);
  const sealed = (await vault.seal(Buffer.from(input.value, 'latin1'))).toString('base64');
  const setAt = ctx.now().toISOString();
  const entry = {
    name: input.name,
    ...(input.methods && input.methods.length > 0 ? { methods: [...input.methods] } : {}),
    sealed,
    setAt,
  };
  state.tx(() => {
    const list = readStoredInTx(state).filter((c) => key(c.name) !== key(input.name));
    writeSetting(state.db, SETTING, [...list, entry]);
    appendAudit(
      state.db,
      [
        audit(ctx, 'settings.upstream_credential.set', {
          name: input.name,
          methods: entry.methods ?? ['*'],
        }),
      ],
      signer ? { signer } : {},
    );
  });
  return { name: entry.name, ...(entry.methods ? { methods: entry.methods } : {}), setAt };
}

export function removeCredential(
  ctx: OpContext,
  state: StateDb,
  signer: AuditSigner | null,
  name: string,
): void {
  state.tx(() => {
    const list = readStoredInTx(state);
    const rest = list.filter((c) => key(c.name) !== key(name));
    if (rest.length === list.length) throw new ConsoleError('NOT_FOUND', `no upstream header named ${name}`);
    writeSetting(state.db, SETTING, rest);
    appendAudit(
      state.db,
      [audit(ctx, 'settings.upstream_credential.removed', { name })],
      signer ? { signer } : {},
    );
  });
}

/** The values for the gateway; needs the vault open (as the server key does). */
export async function unsealCredentials(
  state: StateDb,
  vaults: VaultResolver,
): Promise<UnsealedCredential[]> {
  const list = readStored(state);
  if (list.length === 0) return [];
  const meta = state.read(() => readMeta(state.db));
  const vault = await vaults.open(meta.vaultBackend);
  const out: UnsealedCredential[] = [];
  for (const c of list) {
    const value = (await vault.unseal(Buffer.from(c.sealed, 'base64'), `upstream header ${c.name}`)).toString(
      'latin1',
    );
    out.push({ name: c.name, value, ...(c.methods ? { methods: c.methods } : {}) });
  }
  return out;
}
