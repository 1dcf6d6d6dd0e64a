// Runs every benchmark (or those named on the command line) and records results in bench/results/.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ALL = ['run-rm', 'ps', 'lifecycle', 'network', 'density', 'api', 'pull'];
const which = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
let failed = 0;
for (const name of which) {
  const r = spawnSync(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), `${name}.mjs`)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
spawnSync(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'report.mjs')], { stdio: 'inherit' });
process.exit(failed ? 1 : 0);
