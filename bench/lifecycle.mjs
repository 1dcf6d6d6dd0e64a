// Issue 3 benchmarks, Berth beside Podman in one run:
//  - a `run -d` + `stop -t 0` + `rm` cycle (target: Berth ≤ 0.6× Podman)
//  - `exec CONTAINER true` (target: Berth ≤ 0.6× Podman)
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync, execFileSync } from 'node:child_process';
import { benchPair, stats, machine, record, timeOnce } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const { berth, podman, done } = benchPair('lifecycle');

const engines = [
  { name: 'berth', env: berth.env, cmd: berth.cmd, image: 'busybox' },
  ...(podman ? [{ name: 'podman', env: podman.env, cmd: podman.cmd, image: 'localhost/busybox' }] : []),
];

/** One cycle, timed as the sum of its three commands. */
function cycle(e) {
  const t0 = process.hrtime.bigint();
  const id = execFileSync(e.cmd()[0], [...e.cmd().slice(1), 'run', '-d', e.image, 'sleep', '1000'], { env: e.env, encoding: 'utf8' }).trim();
  timeOnce(e.cmd('stop', '-t', '0', id), e.env);
  timeOnce(e.cmd('rm', id), e.env);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const cycles = new Map(engines.map((e) => [e.name, []]));
for (const e of engines) cycle(e); // warm-up
for (let i = 0; i < ROUNDS; i++) for (const e of engines) cycles.get(e.name).push(cycle(e));

for (const e of engines) execFileSync(e.cmd()[0], [...e.cmd().slice(1), 'run', '-d', '--name', 'exec-target', e.image, 'sleep', '1000'], { env: e.env });
const execs = new Map(engines.map((e) => [e.name, []]));
for (const e of engines) timeOnce(e.cmd('exec', 'exec-target', 'true'), e.env);
for (let i = 0; i < ROUNDS * 2; i++) for (const e of engines) execs.get(e.name).push(timeOnce(e.cmd('exec', 'exec-target', 'true'), e.env));

const rows = [
  ...engines.map((e) => ({ name: `${e.name}: run -d + stop -t 0 + rm`, ...stats(cycles.get(e.name)) })),
  ...engines.map((e) => ({ name: `${e.name}: exec CONTAINER true`, ...stats(execs.get(e.name)) })),
];
const ratio = (a, b) => (rows.find((r) => r.name === a)?.median ?? NaN) / (rows.find((r) => r.name === b)?.median ?? NaN);
const c = ratio('berth: run -d + stop -t 0 + rm', 'podman: run -d + stop -t 0 + rm');
const x = ratio('berth: exec CONTAINER true', 'podman: exec CONTAINER true');
record('lifecycle', {
  machine: { ...machine(), podman: podman?.version ?? 'not installed' },
  rows,
  verdict: {
    'cycle berth/podman': c.toFixed(2), 'cycle target': '≤ 0.60', 'cycle met': String(c <= 0.6),
    'exec berth/podman': x.toFixed(2), 'exec target': '≤ 0.60', 'exec met': String(x <= 0.6),
  },
});

for (const e of engines) spawnSync(e.cmd()[0], [...e.cmd().slice(1), 'rm', '-af'], { env: e.env, stdio: 'ignore' });
done();
