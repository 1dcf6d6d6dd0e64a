// `run --rm busybox true` with --network none: Berth vs Podman vs a raw
// `runc run` of the same rootfs, interleaved in one run.
// Target (issue 2): Berth's median at most 0.7× Podman's.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { benchPair, compare, machine, record } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 20);
const { dir, berth, podman, done } = benchPair('runrm');

// A raw runc bundle: the image's unpacked layer as a read-only root.
const layer = JSON.parse(berth.sh('image', 'inspect', 'busybox'))[0].GraphDriver.Data.LowerDir;
const bundle = path.join(dir, 'runc-bundle');
fs.mkdirSync(bundle);
execFileSync('runc', ['spec'], { cwd: bundle });
const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
Object.assign(spec.process, { args: ['true'], terminal: false });
spec.root = { path: layer, readonly: true };
spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }];
spec.linux.cgroupsPath = '/berth-bench-runc/c';
fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
const runcRoot = path.join(dir, 'runc-state');

const candidates = [
  { name: 'berth run --rm --network none busybox true', argv: () => berth.cmd('run', '--rm', '--network', 'none', 'busybox', 'true'), env: berth.env },
  ...(podman ? [{ name: 'podman run --rm --network none busybox true', argv: () => podman.cmd('run', '--rm', '--network', 'none', 'localhost/busybox', 'true'), env: podman.env }] : []),
  { name: 'runc run (same rootfs, no overlay, no monitor)', argv: (i, w) => ['runc', '--root', runcRoot, 'run', '--bundle', bundle, `bench-${w ? 'w' : ''}${i}`], env: process.env },
];
const rows = compare(candidates, ROUNDS);
const b = rows[0].median, p = rows.find((r) => r.name.startsWith('podman'))?.median;
record('run-rm', {
  machine: { ...machine(), podman: podman?.version ?? 'not installed' },
  rows,
  verdict: p ? { 'berth/podman': (b / p).toFixed(2), target: '≤ 0.70', met: String(b / p <= 0.7) } : { podman: 'not installed' },
});

done();
