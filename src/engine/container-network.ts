// A container's networking while it runs: its namespace and veths, addresses,
// published ports; set up before `runc create`, torn down at cleanup.
import fs from 'node:fs';
import type { EngineContext } from './context.js';
import type { ContainerRecord } from './container-types.js';
import type { NetworkEndpoint, PortMapping, NetworkAttachment, NetworkRecord } from '../network/types.js';
import { BerthError, conflict } from './errors.js';
import { attach, detach, removeNetns, netnsPath, hostIfaceName, macFor, type EndpointPlan } from '../network/links.js';
import { addPortsScript, deletePortsScript, nftApply, type PublishedPort } from '../network/nft.js';
import { reservePort } from '../network/ports.js';
import { parseCidr } from '../network/ipv4.js';
import { networkByName, ensureNetworkReady } from './network-ops.js';
import { log } from '../sys/log.js';
import { messageOf } from './errors.js';

export interface NetworkSetup {
  /** The network namespace runc joins; undefined = a fresh private one (none) or the host's (host). */
  netnsPath?: string;
  endpoints: NetworkEndpoint[];
  ports: PortMapping[];
  /** Resolves when the namespace and its links exist (await before runc joins it). */
  created: Promise<void>;
  /** Resolves when addresses, routes and published ports are in place (await before the process starts). */
  ready: Promise<void>;
  /** Resolves when no `ip` or `nft` of this setup is still at work, whether it failed or not (await before a teardown). */
  settled: Promise<unknown>;
}

export async function setupNetwork(ctx: EngineContext, rec: ContainerRecord): Promise<NetworkSetup> {
  const c = rec.config;
  const done = Promise.resolve();
  if (c.networkMode === 'none' || c.networkMode === 'host') return { endpoints: [], ports: [], created: done, ready: done, settled: done };
  if (c.networkMode.startsWith('container:')) return { netnsPath: joinedNetns(ctx, c.networkMode.slice(10)), endpoints: [], ports: [], created: done, ready: done, settled: done };
  const plans: EndpointPlan[] = [];
  let configured: Promise<void> | undefined;
  try {
    for (const [i, a] of c.networks.entries()) {
      const n = networkByName(ctx, a.network);
      await ensureNetworkReady(ctx, n);
      plans.push(plan(ctx, c.id, i, a, n, !plans.some((p) => p.defaultRoute)));
    }
    // `ip` makes the namespace and links while the caller mounts the root and writes the
    // spec; addresses inside and the DNAT elements go on while runc creates the container.
    const attached = attach(c.id, plans, true);
    configured = attached.then((a) => a.inside);
    const endpoints = plans.map((p) => p.endpoint);
    const chosen = await choosePorts(c.ports);
    const published = claim(ctx, c.id, chosen, endpoints[0]);
    const ports = published.length ? nftApply(addPortsScript(ctx.cfg.nftTable, published), 'published ports') : undefined;
    const ready = Promise.all([configured, ports]).then(() => undefined);
    const created = attached.then(() => undefined);
    // Observed by the caller; avoid an unhandled rejection meanwhile.
    created.catch(() => undefined);
    ready.catch(() => undefined);
    return { netnsPath: netnsPath(c.id), endpoints, ports: chosen, created, ready, settled: Promise.allSettled([configured, ports]) };
  } catch (e) {
    await configured?.catch(() => undefined); // no ip still at work while we tear down
    await teardownNetwork(ctx, c.id).catch(() => undefined);
    throw e;
  }
}

function plan(ctx: EngineContext, id: string, index: number, a: NetworkAttachment, n: NetworkRecord, routeFree: boolean): EndpointPlan {
  const ip = ctx.networks.allocate(n, id, a.ip);
  return {
    network: n,
    // An internal network has no way out: no default route through it.
    defaultRoute: routeFree && !n.internal,
    endpoint: {
      network: n.name, networkId: n.id, ip, prefix: parseCidr(n.subnet).prefix, gateway: n.gateway,
      mac: a.mac ?? macFor(ip), iface: `eth${index}`, hostIface: hostIfaceName(id, index), aliases: a.aliases,
    },
  };
}

/** Chooses host ports (free ones for 0) and checks that no other program uses them. */
async function choosePorts(wanted: PortMapping[]): Promise<PortMapping[]> {
  const chosen: PortMapping[] = [];
  for (const p of wanted) chosen.push({ ...p, hostPort: await reservePort(p) });
  return chosen;
}

/** Records the host ports (a clash with another container fails here, before anything runs). */
function claim(ctx: EngineContext, id: string, chosen: PortMapping[], first: NetworkEndpoint | undefined): PublishedPort[] {
  if (!chosen.length) return [];
  if (!first) throw new BerthError('invalid-argument', 'publishing ports needs a network to publish to');
  const published: PublishedPort[] = chosen.map((p) => ({ proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: first.ip, containerPort: p.containerPort }));
  ctx.networks.claimPorts(id, published);
  return published;
}

/** Everything setupNetwork made, released; safe to call again. */
export async function teardownNetwork(ctx: EngineContext, id: string): Promise<void> {
  const ports = ctx.networks.ports(id);
  if (ports.length) {
    try {
      await nftApply(deletePortsScript(ctx.cfg.nftTable, ports), 'published ports');
    } catch (e) {
      // The table may have been replaced (or flushed by a reboot) meanwhile: the elements are gone already.
      log.debug(`removing published ports of ${id.slice(0, 12)}: ${messageOf(e)}`);
    }
    ctx.networks.releasePorts(id);
  }
  await removeNetns(id);
  ctx.networks.release(id);
}

function joinedNetns(ctx: EngineContext, targetId: string): string {
  const t = ctx.containers.get(targetId);
  if (!t || (t.state !== 'running' && t.state !== 'paused')) {
    throw new BerthError('not-running', `--network container:${targetId.slice(0, 12)}: that container is not running (start it first)`);
  }
  if (t.config.networkMode === 'host') throw conflict('cannot join the network of a container that uses the host network: use --network host');
  if (fs.existsSync(netnsPath(targetId))) return netnsPath(targetId);
  return `/proc/${t.status.pid}/ns/net`;
}

/** Joins a running container to one more network (`network connect`). */
export async function connectRunning(ctx: EngineContext, rec: ContainerRecord, a: NetworkAttachment): Promise<NetworkEndpoint> {
  const n = networkByName(ctx, a.network);
  await ensureNetworkReady(ctx, n);
  const used = new Set((rec.status.network?.endpoints ?? []).map((e) => Number(e.iface.slice(3))));
  let index = 0;
  while (used.has(index)) index++;
  const p = plan(ctx, rec.config.id, index, a, n, !(rec.status.network?.endpoints ?? []).some((e) => !networkByName(ctx, e.network).internal));
  try {
    await (await attach(rec.config.id, [p], false)).inside;
  } catch (e) {
    ctx.networks.release(rec.config.id, n.id);
    throw e;
  }
  return p.endpoint;
}

export async function disconnectRunning(ctx: EngineContext, rec: ContainerRecord, e: NetworkEndpoint): Promise<void> {
  await detach(e.hostIface);
  ctx.networks.release(rec.config.id, e.networkId);
}
