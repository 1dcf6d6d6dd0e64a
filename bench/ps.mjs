// `ps -a` with 100 containers, beside `node -e 0` (Node's own start-up) and
// `podman ps -a` with 100 containers, interleaved in one run.
// Target (issue 2): Berth at most 25 ms above `node -e 0`.
import { benchPair, compare, machine, record } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 30);
const N = Number(process.env.CONTAINERS ?? 100);
const { berth, podman, done } = benchPair('ps');
for (let i = 0; i < N; i++) berth.sh('create', '--name', `c${i}`, 'busybox', 'true');
for (let i = 0; podman && i < N; i++) podman.sh('create', '--name', `c${i}`, 'localhost/busybox', 'true');

// The berth launcher hands NODE_EXTRA_CA_CERTS over to Berth instead of letting Node parse
// it at start-up (~45 ms when it names the system bundle, as on our machines), so the
// baseline is Node started without it: Node's fastest start, not a slower one.
const bareNode = { ...process.env };
delete bareNode.NODE_EXTRA_CA_CERTS;
const rows = compare([
  { name: 'node -e 0 (without NODE_EXTRA_CA_CERTS)', argv: () => [process.execPath, '-e', '0'], env: bareNode },
  { name: `berth ps -a (${N} containers)`, argv: () => berth.cmd('ps', '-a'), env: berth.env },
  ...(podman ? [{ name: `podman ps -a (${N} containers)`, argv: () => podman.cmd('ps', '-a'), env: podman.env }] : []),
], ROUNDS);
const over = rows[1].median - rows[0].median;
record('ps', {
  machine: { ...machine(), podman: podman?.version ?? 'not installed' },
  rows,
  verdict: { 'berth - node -e 0 (ms)': over.toFixed(1), target: '≤ 25 ms', met: String(over <= 25) },
});

done();
