// The per-host service: one small background berth process for what must keep
// running while containers run: health checks, log rotation and json-file log
// conversion on a clock, and the DNS server that resolves container names on
// bridge networks. Podman delegates the first to systemd timers (so without
// systemd its health checks never run) and runs aardvark-dns for the last; a
// monitor per container would cost a Node process (~40 MB) each. One process per
// host, started on demand by the first container that needs it and exiting once
// none does, costs one process in total.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { EngineContext } from './context.js';
import type { ContainerConfig, ContainerRecord } from './container-types.js';
import { FileLock } from '../sys/lock.js';
import { pidAlive, pidStartTime } from '../sys/fsutil.js';
import { observe } from './lifecycle.js';
import { runHealthcheck } from './health.js';
import { rotateLogIfNeeded, syncJsonLog } from './logs.js';
import { log } from '../sys/log.js';
import { messageOf } from './errors.js';
import { DnsServer, type DnsRecord } from '../network/dns.js';
import { bridgeExists } from '../network/links.js';

const IDLE_EXIT_MS = 15_000;
const MAX_TICK_MS = 1000;

/** Log maintenance: size rotation, and conversion for the json-file driver. */
function needsLogMaintenance(c: ContainerConfig): boolean {
  return c.logDriver === 'json-file' || c.logOpts['max-size'] !== undefined;
}

function maintainLog(ctx: EngineContext, rec: ContainerRecord): void {
  if (rec.config.logDriver === 'json-file') syncJsonLog(ctx, rec);
  else rotateLogIfNeeded(ctx, rec);
}

export function needsHostService(c: ContainerConfig): boolean {
  return !!c.healthcheck || needsLogMaintenance(c) || (c.networkMode === 'bridge' && c.networks.length > 0);
}

/** Names each running container answers to on its networks (name, aliases, short ID). */
function dnsRecords(ctx: EngineContext): DnsRecord[] {
  const out: DnsRecord[] = [];
  for (const raw of ctx.containers.list()) {
    const rec = observe(ctx, raw);
    if (rec.state !== 'running' && rec.state !== 'paused') continue;
    for (const e of rec.status.network?.endpoints ?? []) {
      const names = [rec.config.name, rec.config.id.slice(0, 12), ...e.aliases].map((n) => n.toLowerCase());
      out.push({ container: rec.config.id, names, ip: e.ip, networks: [e.network] });
    }
  }
  return out;
}

/** Gateways of DNS-enabled networks whose bridge exists (network name → address). */
function dnsGateways(ctx: EngineContext): Map<string, string> {
  return new Map(ctx.networks.list().filter((n) => n.dns && bridgeExists(n.bridge)).map((n) => [n.name, n.gateway]));
}

const pidFile = (ctx: EngineContext) => path.join(ctx.cfg.runroot, 'host-service.pid');

function serviceAlive(ctx: EngineContext): boolean {
  try {
    const [pid, start] = fs.readFileSync(pidFile(ctx), 'utf8').trim().split(' ').map(Number);
    return !!pid && pidAlive(pid) && pidStartTime(pid) === start;
  } catch {
    return false;
  }
}

/**
 * Starts the host service unless one runs for this run root. Resolves once it is
 * serving (it writes its pid file after binding its DNS sockets), so a container
 * that needs DNS can be held until then: only the first start after a quiet spell waits.
 */
export async function ensureHostService(ctx: EngineContext): Promise<void> {
  if (serviceAlive(ctx)) return;
  const args = [...process.execArgv, process.argv[1] ?? '', '--root', ctx.cfg.root, '--runroot', ctx.cfg.runroot, '--log-level', ctx.cfg.logLevel];
  if (ctx.cfg.configFile) args.push('--config', ctx.cfg.configFile);
  const child = spawn(process.execPath, [...args, 'system', 'service'], { detached: true, stdio: 'ignore', env: process.env });
  child.unref();
  for (let waited = 0; waited < 5000 && !serviceAlive(ctx); waited += 10) await new Promise((r) => setTimeout(r, 10));
}

/** Asks a running service to look at networks and containers now (a new bridge, a connect). */
export function pokeHostService(ctx: EngineContext): void {
  try {
    const [pid] = fs.readFileSync(pidFile(ctx), 'utf8').trim().split(' ').map(Number);
    if (pid && serviceAlive(ctx)) process.kill(pid, 'SIGUSR1');
  } catch { /* not running: it scans everything when it starts */ }
}

/** The service loop (`berth system service`). Returns when no running container needs it for a while. */
export async function runHostService(ctx: EngineContext): Promise<void> {
  fs.mkdirSync(ctx.paths.locks, { recursive: true });
  const lock = FileLock.tryAcquire(path.join(ctx.paths.locks, 'host-service'));
  if (!lock) return; // another instance serves this run root
  const nextCheck = new Map<string, { startedAt: string; due: number }>();
  const inFlight = new Set<string>();
  const dns = new DnsServer({ records: () => dnsRecords(ctx) });
  let idleSince = Date.now();
  let wakeUp: (() => void) | undefined;
  process.on('SIGUSR1', () => wakeUp?.());
  let announced = false;
  try {
    for (;;) {
      const now = Date.now();
      await dns.sync(dnsGateways(ctx));
      if (!announced) {
        // Ready: commands waiting in ensureHostService go on.
        fs.writeFileSync(pidFile(ctx), `${process.pid} ${pidStartTime(process.pid)}\n`);
        announced = true;
      }
      const recs = ctx.containers.list().map((r) => observe(ctx, r)).filter((r) => r.state === 'running' && needsHostService(r.config));
      if (recs.length) idleSince = now;
      else if (now - idleSince > IDLE_EXIT_MS) return;
      let wake = now + MAX_TICK_MS;
      for (const rec of recs) {
        const id = rec.config.id;
        const hc = rec.config.healthcheck;
        if (hc) {
          let slot = nextCheck.get(id);
          if (!slot || slot.startedAt !== rec.status.startedAt) {
            slot = { startedAt: rec.status.startedAt, due: Date.parse(rec.status.startedAt) + hc.intervalMs };
            nextCheck.set(id, slot);
          }
          if (now >= slot.due && !inFlight.has(id)) {
            slot.due = now + hc.intervalMs;
            inFlight.add(id);
            runHealthcheck(ctx, id)
              .catch((e) => log.debug(`health check of ${id.slice(0, 12)}: ${messageOf(e)}`))
              .finally(() => inFlight.delete(id));
          }
          wake = Math.min(wake, slot.due);
        }
        if (needsLogMaintenance(rec.config)) {
          try { maintainLog(ctx, rec); } catch (e) { log.debug(`log maintenance of ${id.slice(0, 12)}: ${messageOf(e)}`); }
        }
      }
      for (const id of nextCheck.keys()) if (!recs.some((r) => r.config.id === id)) nextCheck.delete(id);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(20, wake - Date.now()));
        wakeUp = () => { clearTimeout(timer); r(); };
      });
    }
  } finally {
    dns.close();
    while (inFlight.size) await new Promise((r) => setTimeout(r, 50));
    fs.rmSync(pidFile(ctx), { force: true });
    lock.release();
  }
}
