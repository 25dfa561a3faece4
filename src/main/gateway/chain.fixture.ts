import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './harness.fixture';

/**
 * A long certificate chain from a foreign CA, each certificate signed by the next one, as an
 * attacker would send to make the gateway's TLS stack walk and verify it (issue 8, item 8).
 * Built with the openssl CLI, an independent implementation.
 */
export interface LongChain {
  /** Leaf first, then every intermediate up to (not including) the root. */
  readonly chainPem: string;
  readonly leafKeyPem: string;
  readonly chainFile: string;
  readonly keyFile: string;
  readonly count: number;
}

// One key signs every link: chain building and the signature walk cost the same, key generation does not.
const SCRIPT = `
set -eu
cd "$1"; n="$2"
ext="basicConstraints=critical,CA:TRUE"
openssl ecparam -name prime256v1 -genkey -noout -out k.pem
openssl req -x509 -new -key k.pem -subj "/CN=foreign root" -days 2 -addext "$ext" -out c0.pem
i=1
while [ "$i" -le "$n" ]; do
  if [ "$i" -eq "$n" ]; then e="extendedKeyUsage=clientAuth"; cn="foreign leaf"; else e="$ext"; cn="foreign ca $i"; fi
  openssl req -x509 -new -key k.pem -subj "/CN=$cn" -CA c$((i-1)).pem -CAkey k.pem \\
    -set_serial $((4096+i)) -days 1 -addext "$e" -out c$i.pem 2>/dev/null
  i=$((i+1))
done
: > chain.pem
i=$n
while [ "$i" -ge 1 ]; do cat c$i.pem >> chain.pem; i=$((i-1)); done
`;

export async function longForeignChain(dir: string, count: number): Promise<LongChain> {
  const work = path.join(dir, `chain-${count}`);
  mkdirSync(work, { recursive: true });
  const script = path.join(work, 'make.sh');
  writeFileSync(script, SCRIPT);
  const r = await run('bash', [script, work, String(count)], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`chain generation failed: ${r.stderr}`);
  const chainFile = path.join(work, 'chain.pem');
  const keyFile = path.join(work, 'k.pem');
  return {
    chainPem: readFileSync(chainFile, 'utf8'),
    leafKeyPem: readFileSync(keyFile, 'utf8'),
    chainFile,
    keyFile,
    count,
  };
}
