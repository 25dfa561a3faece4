import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The gateway child's bundle (out/main/gateway.js and the chunks it requires, built by
 * `npm run build` before the tests) loads Node built-ins only: no zod (~16 MiB of RSS, issue 12),
 * nor any other package. A module of src/shared that imports zod, pulled into the child by a new
 * import, fails here rather than in the benchmark.
 */
const OUT = path.resolve(__dirname, '..', '..', '..', 'out', 'main');

function requiresOf(file: string, seen = new Set<string>()): Set<string> {
  const bare = new Set<string>();
  if (seen.has(file)) return bare;
  seen.add(file);
  const text = fs.readFileSync(file, 'utf8');
  for (const m of text.matchAll(/require\("([^"]+)"\)/g)) {
    const spec = m[1] as string;
    if (spec.startsWith('./')) {
      for (const b of requiresOf(path.join(path.dirname(file), spec), seen)) bare.add(b);
    } else bare.add(spec);
  }
  return bare;
}

describe('the gateway bundle', () => {
  it.runIf(fs.existsSync(path.join(OUT, 'gateway.js')))('loads Node built-ins only, no zod', () => {
    const loaded = [...requiresOf(path.join(OUT, 'gateway.js'))];
    expect(loaded.filter((m) => !m.startsWith('node:'))).toEqual([]);
    expect(loaded).toContain('node:tls');
  });
});
