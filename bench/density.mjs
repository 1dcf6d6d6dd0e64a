// Density (issue 3): start N idle busybox containers with Berth and with Podman,
// a few at a time, and report the time to start them all and the memory each
// costs: the PSS of every process that exists per container besides the
// container's own (for both engines that is conmon), plus the engine's share.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { benchPair, machine, record } from './lib.mjs';
import path from 'node:path';

const N = Number(process.env.CONTAINERS ?? 500);
const PARALLEL = Number(process.env.PARALLEL ?? 4);

function runAll(cmdFor, env) {
  return new Promise((resolve, reject) => {
    let next = 0, done = 0, failed = 0;
    const t0 = process.hrtime.bigint();
    const launch = () => {
      if (next >= N) return;
      const i = next++;
      const argv = cmdFor(i);
      const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => { err += d; });
      child.on('close', (code) => {
        if (code !== 0) { failed++; if (failed < 3) console.error(`${argv.slice(0, 3).join(' ')}… failed: ${err.trim()}`); }
        if (++done === N) resolve({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, failed });
        else launch();
      });
      child.on('error', reject);
    };
    for (let k = 0; k < PARALLEL; k++) launch();
  });
}

/** Sum of PSS (kB) of processes whose command line matches. */
function pss(match) {
  let total = 0, count = 0;
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { continue; }
    if (!match(cmd)) continue;
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) { total += Number(m[1]); count++; }
    } catch { /* exited */ }
  }
  return { kB: total, processes: count };
}

const { dir, berth, podman, done } = benchPair('density');

const results = {};
const b = await runAll((i) => berth.cmd('run', '-d', '--name', `d${i}`, 'busybox', 'sleep', '100000'), berth.env);
const bRoot = path.join(dir, 'root');
const bCon = pss((c) => c.startsWith('/usr/bin/conmon ') && c.includes(bRoot));
// Berth's own processes for this root (the per-host service), not per container.
const bOther = pss((c) => c.includes('dist/berth') && c.includes(bRoot) && !c.startsWith('/usr/bin/conmon '));
results.berth = { ...b, conmon: bCon, berthProcesses: bOther };
berth.sh('rm', '-af', '-t', '0');
if (podman) {
  const p = await runAll((i) => podman.cmd('run', '-d', '--name', `d${i}`, 'localhost/busybox', 'sleep', '100000'), podman.env);
  const pCon = pss((c) => c.startsWith('/usr/bin/conmon ') && c.includes('/tmp/pb-'));
  results.podman = { ...p, conmon: pCon };
}

const perCtr = (r) => (r.conmon.kB / Math.max(1, r.conmon.processes)).toFixed(0);
const rows = [
  { name: `berth: start ${N} (x${PARALLEL} parallel)`, median: Math.round(results.berth.seconds * 1000), p10: '', p90: '', n: N },
  ...(results.podman ? [{ name: `podman: start ${N} (x${PARALLEL} parallel)`, median: Math.round(results.podman.seconds * 1000), p10: '', p90: '', n: N }] : []),
];
const notes = [
  `Berth: ${results.berth.conmon.processes} conmon processes, PSS ${perCtr(results.berth)} kB each; Berth processes alive besides them: ${results.berth.berthProcesses.processes} (${results.berth.berthProcesses.kB} kB PSS). Failures: ${results.berth.failed}.`,
  results.podman ? `Podman: ${results.podman.conmon.processes} conmon processes, PSS ${perCtr(results.podman)} kB each. Failures: ${results.podman.failed}.` : 'Podman: not installed.',
].join('\n\n');
record('density', {
  machine: { ...machine(), podman: podman?.version ?? 'not installed' },
  rows,
  verdict: {
    'berth per-container PSS (kB)': perCtr(results.berth),
    'berth processes besides conmon (per host, not per container)': String(results.berth.berthProcesses.processes),
    ...(results.podman ? { 'start-all berth/podman': (results.berth.seconds / results.podman.seconds).toFixed(2), met: String(results.berth.seconds < results.podman.seconds && results.berth.berthProcesses.processes <= 1) } : {}),
  },
  notes,
});

done();
