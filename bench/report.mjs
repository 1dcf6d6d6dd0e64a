// Writes bench/RESULTS.md from the recorded bench/results/*.json.
import fs from 'node:fs';
import path from 'node:path';

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
const TITLES = {
  api: 'Docker API: the docker CLI against `berth serve` and against dockerd, `run --rm busybox true` and `ps -a` with 100 containers (issue 6: Berth ≤ 0.5× dockerd for run)',
  'run-rm': '`run --rm busybox true`, no network (issue 2: Berth ≤ 0.7× Podman)',
  ps: '`ps -a` with 100 containers (issue 2: ≤ 25 ms above `node -e 0`)',
  lifecycle: 'Container lifecycle: `run -d` + `stop -t 0` + `rm` cycle, and `exec true` (issue 3: Berth ≤ 0.6× Podman for each)',
  network: 'Networking: `run --rm` on the default bridge (issue 5: Berth ≤ 0.4× Podman), 100 containers on one network, published-port latency',
  density: 'Density: 500 idle busybox containers (issue 3: no per-container process besides conmon; start all faster than Podman)',
  pull: 'Registry: pull and push of a ~200 MB, 7-layer image through a loopback docker-registry, and the pull again over a 1 Gbit/s link (issue 4: pull ≤ 0.8× Podman and ≤ 1.0× skopeo; push ≤ 1.0× skopeo)',
};
let md = '# Benchmark results\n\nWritten by `npm run bench` (bench/run.mjs); each benchmark runs its candidates interleaved in one run on the same machine. Medians in milliseconds, whole commands including process start. On our shared 2-core machines a median moves by up to ±15% from one run to the next, and a ratio near its target can land on either side of it: compare ratios from the same run, and rerun before trusting one at the edge.\n';
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const name = file.replace(/\.json$/, '');
  const r = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  md += `\n## ${TITLES[name] ?? name}\n\n${r.machine.date}, ${r.machine.cpus} CPUs (${r.machine.cpuModel}), kernel ${r.machine.kernel}, node ${r.machine.node}, ${r.machine.runc}, ${r.machine.conmon}${r.machine.podman ? ', ' + r.machine.podman : ''}; load average ${r.machine.load}.\n\n`;
  md += '| command | median | p10 | p90 | n |\n|---|---:|---:|---:|---:|\n';
  for (const row of r.rows) md += `| ${row.name} | ${row.median} | ${row.p10} | ${row.p90} | ${row.n} |\n`;
  if (r.verdict) md += '\n' + Object.entries(r.verdict).map(([k, v]) => `- ${k}: ${v}`).join('\n') + '\n';
  if (r.notes) md += '\n' + r.notes + '\n';
}
fs.writeFileSync(path.join(dir, '..', 'RESULTS.md'), md);
console.log('wrote bench/RESULTS.md');
