import fs from 'node:fs/promises';
import path from 'node:path';
import { openssl } from './cli';

/** A CSR subject the console must ignore (it names the certificate itself). */
export const HOSTILE_SUBJECT = '/CN=admin/O=Evil Corp';

/** An EC P-256 key and CSR made by openssl in `dir`: the files, and the CSR's PEM. */
export async function opensslCsr(
  dir: string,
  name: string,
  subject = HOSTILE_SUBJECT,
): Promise<{ key: string; csr: string; csrPem: string }> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const r = await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-subj',
    subject,
    '-out',
    csr,
  ]);
  if (r.code !== 0) throw new Error(`openssl req: ${r.stderr}`);
  return { key, csr, csrPem: await fs.readFile(csr, 'utf8') };
}
