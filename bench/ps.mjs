// `ps -a` with 100 containers, beside `node -e 0` (Node's own start-up) and
// `podman ps -a` with 100 containers, interleaved in one run.
// Target (issue 2): Berth at most 25 ms above `node -e 0`.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cleanupNetwork, tmpdir, berthEnv, podmanEnv, compare, machine, record, cleanupCgroups } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 30);
const N = Number(process.env.CONTAINERS ?? 100);
const dir = tmpdir('ps');
const berth = berthEnv(dir);
berth.sh('image', 'bootstrap', 'busybox');
for (let i = 0; i < N; i++) berth.sh('create', '--name', `c${i}`, 'busybox', 'true');
const podman = podmanEnv();
if (podman) {
  const archive = path.join(dir, 'busybox.tar');
  berth.sh('save', '-o', archive, 'busybox');
  podman.sh('load', '-q', '-i', archive);
  for (let i = 0; i < N; i++) podman.sh('create', '--name', `c${i}`, 'localhost/busybox', 'true');
}

const rows = compare([
  { name: 'node -e 0', argv: () => [process.execPath, '-e', '0'], env: process.env },
  { name: `berth ps -a (${N} containers)`, argv: () => berth.cmd('ps', '-a'), env: berth.env },
  ...(podman ? [{ name: `podman ps -a (${N} containers)`, argv: () => podman.cmd('ps', '-a'), env: podman.env }] : []),
], ROUNDS);
const over = rows[1].median - rows[0].median;
record('ps', {
  machine: { ...machine(), podman: podman?.version ?? 'not installed' },
  rows,
  verdict: { 'berth - node -e 0 (ms)': over.toFixed(1), target: '≤ 25 ms', met: String(over <= 25) },
});

spawnSync(berth.cmd('rm', '-af')[0], berth.cmd('rm', '-af').slice(1), { env: berth.env });
podman?.cleanup();
cleanupCgroups('berth-bench');
cleanupNetwork(dir);
fs.rmSync(dir, { recursive: true, force: true });
