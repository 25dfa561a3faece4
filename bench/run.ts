import { benchAudit } from './audit';
import { benchAuditPath } from './audit-path';
import { benchCore } from './core';
import { benchGateway } from './gateway';
import { benchRenderer } from './renderer';

/** `npm run bench`: prints figures; nothing here is asserted (speed goals are not tests). */
async function main(): Promise<void> {
  const only = process.argv[2];
  const log = (line: string) => process.stdout.write(line + '\n');
  const sections: Record<string, () => Promise<void>> = {
    core: () => benchCore(log),
    gateway: () => benchGateway(log),
    renderer: () => benchRenderer(log),
    audit: () => benchAudit(log),
    'audit-path': () => benchAuditPath(log),
  };
  for (const [name, run] of Object.entries(sections)) {
    if (only && only !== name) continue;
    log(`\n== ${name} ==`);
    await run();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
