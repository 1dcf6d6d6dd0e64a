// Shared helpers for Berth's benchmarks: private roots for Berth and Podman,
// interleaved timing of whole commands, and recording results.
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const BERTH = path.join(REPO, 'dist/berth');

export function tmpdir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `berth-bench-${name}-`));
}

/** A Berth with private roots, cgroup parent and network names (bridges, subnets, nft table). */
export function berthEnv(dir) {
  const tag = path.basename(dir).slice(-4).replace(/[^a-zA-Z0-9]/g, 'x');
  const config = path.join(dir, 'berth.toml');
  fs.writeFileSync(config, `[network]\ndefault_subnet = "10.250.0.0/20"\nsubnet_pool = "10.250.64.0/18"\nbridge_prefix = "bb${tag}"\nnft_table = "bb_${tag}"\n`);
  const env = { ...process.env, BERTH_CONFIG: config, BERTH_CGROUP_PARENT: `/berth-bench-${path.basename(dir)}` };
  const argv = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run')];
  const cmd = (...args) => [BERTH, ...argv, ...args];
  const sh = (...args) => execFileSync(BERTH, [...argv, ...args], { env, encoding: 'utf8', maxBuffer: 256 << 20 });
  return { env, cmd, sh };
}

/** A Podman with private roots, runc and this host's ulimits (see reference/podman.md). */
export function podmanEnv() {
  if (!which('podman')) return undefined;
  // Podman refuses a run root longer than 50 characters.
  const dir = fs.mkdtempSync('/tmp/pb-');
  const conf = path.join(dir, 'containers.conf');
  fs.writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const argv = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--tmpdir', path.join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs'];
  const cmd = (...args) => ['podman', ...argv, ...args];
  const sh = (...args) => execFileSync('podman', [...argv, ...args], { env, encoding: 'utf8', maxBuffer: 256 << 20 });
  const cleanup = () => {
    spawnSync('podman', [...argv, 'rm', '-af', '-t', '0'], { env, stdio: 'ignore' });
    spawnSync('podman', [...argv, 'system', 'reset', '-f'], { env, stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { env, cmd, sh, cleanup, version: execFileSync('podman', ['--version'], { encoding: 'utf8' }).trim() };
}

export function which(p) {
  return spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;
}

/** Times one run of argv (fork+exec included), in ms; throws if it fails. */
export function timeOnce(argv, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

/**
 * Runs each candidate `rounds` times, interleaved (A B C A B C …) so that
 * machine noise hits all of them alike. Returns per-candidate stats.
 */
export function compare(candidates, rounds, warmup = 2) {
  for (const c of candidates) for (let i = 0; i < warmup; i++) timeOnce(c.argv(i, true), c.env);
  const samples = new Map(candidates.map((c) => [c.name, []]));
  for (let i = 0; i < rounds; i++) {
    for (const c of candidates) samples.get(c.name).push(timeOnce(c.argv(i, false), c.env));
  }
  return candidates.map((c) => ({ name: c.name, ...stats(samples.get(c.name)) }));
}

export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: round(q(0.5)), p10: round(q(0.1)), p90: round(q(0.9)), min: round(s[0]), max: round(s[s.length - 1]) };
}

const round = (x) => Math.round(x * 10) / 10;

export function machine() {
  return {
    date: new Date().toISOString(), kernel: os.release(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    runc: firstLine('runc', ['--version']), conmon: firstLine('conmon', ['--version']),
  };
}

function firstLine(cmd, args) {
  try { return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]; } catch { return 'n/a'; }
}

/** Writes bench/results/<name>.json and prints a table. */
export function record(name, result) {
  const file = path.join(REPO, 'bench', 'results', `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`\n${name} (${result.machine.date}, load ${result.machine.load}):`);
  for (const r of result.rows) console.log(`  ${r.name.padEnd(44)} median ${String(r.median).padStart(7)} ms  p10 ${r.p10}  p90 ${r.p90}  (n=${r.n})`);
  for (const [k, v] of Object.entries(result.verdict ?? {})) console.log(`  ${k}: ${v}`);
  console.log(`  → ${path.relative(REPO, file)}`);
}

/**
 * A Berth and (when installed) a Podman, each with private roots and the same
 * busybox image (bootstrapped by Berth, loaded into Podman from a saved archive).
 * `done()` removes both and everything they made.
 */
export function benchPair(name) {
  const dir = tmpdir(name);
  const berth = berthEnv(dir);
  berth.sh('image', 'bootstrap', 'busybox');
  const archive = path.join(dir, 'busybox.tar');
  berth.sh('save', '-o', archive, 'busybox');
  const podman = podmanEnv();
  podman?.sh('load', '-q', '-i', archive);
  const done = () => {
    spawnSync(berth.cmd()[0], [...berth.cmd().slice(1), 'rm', '-af', '-t', '0'], { env: berth.env, stdio: 'ignore' });
    spawnSync(berth.cmd()[0], [...berth.cmd().slice(1), 'network', 'prune', '-f'], { env: berth.env, stdio: 'ignore' });
    podman?.cleanup();
    cleanupCgroups('berth-bench');
    cleanupNetwork(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { dir, berth, podman, done };
}

/** Removes a bench Berth's bridges and nftables table. */
export function cleanupNetwork(dir) {
  const tag = path.basename(dir).slice(-4).replace(/[^a-zA-Z0-9]/g, 'x');
  for (const n of fs.readdirSync('/sys/class/net')) if (n.startsWith(`bb${tag}`)) spawnSync('ip', ['link', 'del', n]);
  spawnSync('nft', ['delete', 'table', 'ip', `bb_${tag}`], { stdio: 'ignore' });
}

export function cleanupCgroups(prefix) {
  for (const ctrl of fs.readdirSync('/sys/fs/cgroup')) {
    const p = path.join('/sys/fs/cgroup', ctrl);
    for (const n of safeReaddir(p)) if (n.startsWith(prefix)) spawnSync('find', [path.join(p, n), '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
  }
}

function safeReaddir(d) { try { return fs.readdirSync(d); } catch { return []; } }
