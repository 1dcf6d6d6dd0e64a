// Issue 5 benchmarks:
//  - `run --rm busybox true` on the default bridge network, beside `podman run --rm`
//    (bridged, netavark) in one run: target Berth ≤ 0.4× Podman;
//  - setup and teardown of 100 containers on one network;
//  - connection latency through a published port vs straight to the container.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { benchPair, compare, stats, machine, record } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 20);
const N = Number(process.env.CONTAINERS ?? 100);
const { berth, podman, done } = benchPair('network');

// 1. run --rm on the bridge, interleaved.
const runRows = compare([
  { name: 'berth run --rm busybox true (default bridge)', argv: () => berth.cmd('run', '--rm', 'busybox', 'true'), env: berth.env },
  ...(podman ? [{ name: 'podman run --rm busybox true (bridge, netavark)', argv: () => podman.cmd('run', '--rm', 'localhost/busybox', 'true'), env: podman.env }] : []),
], ROUNDS);

// 2. 100 containers on one network: setup (run -d) and teardown (rm -f), 4 at a time.
berth.sh('network', 'create', 'benchnet');
/** Runs the commands `parallel` at a time; returns the total wall time in ms. */
async function timed(argvs, parallel = 4) {
  const t0 = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < argvs.length) {
      const a = argvs[next++];
      await new Promise((resolve, reject) => {
        const c = spawn(a[0], a.slice(1), { env: berth.env, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        c.stderr.on('data', (d) => { err += d; });
        c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err))));
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
const names = Array.from({ length: N }, (_, i) => `n${i}`);
const setupMs = await timed(names.map((n) => berth.cmd('run', '-d', '--name', n, '--network', 'benchnet', 'busybox', 'sleep', '100000')));
const teardownMs = await timed(names.map((n) => berth.cmd('rm', '-f', '-t', '0', n)));

// 3. Latency: sequential TCP connect + request + close, direct vs published.
berth.sh('run', '-d', '--name', 'srv', '--network', 'benchnet', '-p', '127.0.0.1:18700:80', '-p', '18701:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc');
const srvIp = berth.sh('inspect', '-f', '{{(index .NetworkSettings.Networks "benchnet").IPAddress}}', 'srv').trim();
const hostIp = spawnSync('hostname', ['-I'], { encoding: 'utf8' }).stdout.trim().split(/\s+/)[0];
async function latency(host, port, n = 300) {
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      const s = net.connect({ host, port }, () => s.end('GET /hostname HTTP/1.0\r\n\r\n'));
      s.on('data', () => {});
      s.on('close', resolve);
      s.on('error', reject);
    });
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return stats(xs.slice(20));
}
await new Promise((r) => setTimeout(r, 300));
const direct = await latency(srvIp, 80);
const viaLoopback = await latency('127.0.0.1', 18700);
const viaHost = await latency(hostIp, 18701);

const rows = [
  ...runRows,
  { name: `setup: ${N}× run -d on one network (4 at a time)`, median: Math.round(setupMs), p10: '', p90: '', n: N },
  { name: `teardown: ${N}× rm -f (4 at a time)`, median: Math.round(teardownMs), p10: '', p90: '', n: N },
  { name: 'request: straight to the container', ...direct },
  { name: 'request: published port on 127.0.0.1 (DNAT)', ...viaLoopback },
  { name: 'request: published port on a host address (DNAT)', ...viaHost },
];
const p = runRows.find((r) => r.name.startsWith('podman'))?.median;
record('network', {
  machine: { ...machine(), podman: podman?.version ?? 'not installed' },
  rows,
  verdict: {
    ...(p ? { 'run --rm berth/podman': (runRows[0].median / p).toFixed(2), target: '≤ 0.40', met: String(runRows[0].median / p <= 0.4) } : {}),
    'per-container setup (ms, 4 parallel)': (setupMs / N).toFixed(1), 'per-container teardown (ms)': (teardownMs / N).toFixed(1),
    'published-port overhead p50 (ms)': (viaLoopback.median - direct.median).toFixed(3),
  },
});

done();
