// Networks as the Engine manages them: create, inspect, remove, prune, and a
// container's life on them (setup at start, teardown at cleanup, connect and
// disconnect while it runs).
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { EngineContext } from './context.js';
import type { NetworkRecord } from '../network/types.js';
import { conflict, invalidArgument } from './errors.js';
import { newId } from './names.js';
import { FileLock } from '../sys/lock.js';
import { formatCidr, hostRoutes, intToIp, overlaps, parseCidr, size, contains, ipToInt } from '../network/ipv4.js';
import { bridgeExists, createBridge, deleteBridge } from '../network/links.js';
import { tableScript, nftApply } from '../network/nft.js';
import { DEFAULT_NETWORK } from './network-config.js';
import { pokeHostService } from './host-service.js';

export const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface NetworkCreateOptions {
  name: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;   // mtu=…
  dns?: boolean;
  ignoreExisting?: boolean;
}

// Subnets and bridge names are a host-wide resource, shared by every Berth on the host.
const HOST_LOCK = '/run/berth-networks.lock';

async function withHostLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = await FileLock.acquire(HOST_LOCK, 'the host network allocation');
  try { return await fn(); } finally { lock.release(); }
}

/** The default network's record, created on first use. */
export function defaultNetwork(ctx: EngineContext): NetworkRecord {
  const found = ctx.networks.find(DEFAULT_NETWORK);
  if (found) return found;
  const subnet = parseCidr(ctx.cfg.defaultSubnet);
  const rec: NetworkRecord = {
    id: createHash('sha256').update(`berth-default-${ctx.cfg.root}`).digest('hex'),
    name: DEFAULT_NETWORK, driver: 'bridge', subnet: formatCidr(subnet), gateway: intToIp(subnet.base + 1),
    bridge: `${ctx.cfg.bridgePrefix}0`, internal: false, dns: true, labels: {}, options: {}, created: new Date().toISOString(),
  };
  try { ctx.networks.insert(rec); } catch { /* a concurrent command created it */ }
  return ctx.networks.resolve(DEFAULT_NETWORK);
}

export function networkByName(ctx: EngineContext, name: string): NetworkRecord {
  return name === DEFAULT_NETWORK ? defaultNetwork(ctx) : ctx.networks.resolve(name);
}

export async function createNetwork(ctx: EngineContext, o: NetworkCreateOptions): Promise<NetworkRecord> {
  if (!NETWORK_NAME_RE.test(o.name)) throw invalidArgument(`invalid network name "${o.name}": use letters, digits, _ . -`);
  if (['none', 'host', 'bridge', 'default', DEFAULT_NETWORK].includes(o.name) || o.name.startsWith('container:')) {
    throw conflict(`network name "${o.name}" is reserved`);
  }
  const existing = ctx.networks.find(o.name);
  if (existing) {
    if (o.ignoreExisting) return existing;
    throw conflict(`network with name ${o.name} already exists`);
  }
  const mtu = o.options?.mtu;
  for (const k of Object.keys(o.options ?? {})) {
    if (k !== 'mtu') throw invalidArgument(`unknown network option "${k}": supported: mtu`);
  }
  if (mtu !== undefined && (!/^\d+$/.test(mtu) || Number(mtu) < 68 || Number(mtu) > 65535)) throw invalidArgument(`invalid mtu "${mtu}": 68 to 65535`);
  const rec = await withHostLock(async () => {
    const subnet = o.subnet ? parseCidr(o.subnet) : pickSubnet(ctx);
    checkFree(ctx, subnet, o.subnet ?? '');
    const gateway = o.gateway ? ipToInt(o.gateway) : subnet.base + 1;
    if (!contains(subnet, gateway) || gateway === subnet.base || gateway === subnet.base + size(subnet) - 1) {
      throw invalidArgument(`gateway ${intToIp(gateway)} is not a usable address of ${formatCidr(subnet)}`);
    }
    if (o.ipRange) {
      const r = parseCidr(o.ipRange);
      if (!contains(subnet, r.base) || r.prefix < subnet.prefix) throw invalidArgument(`ip range ${o.ipRange} is not inside the subnet ${formatCidr(subnet)}`);
    }
    const n: NetworkRecord = {
      id: newId(), name: o.name, driver: 'bridge', subnet: formatCidr(subnet), gateway: intToIp(gateway),
      ...(o.ipRange ? { ipRange: o.ipRange } : {}), bridge: pickBridge(ctx), internal: !!o.internal, dns: o.dns ?? true,
      ...(mtu ? { mtu: Number(mtu) } : {}), labels: o.labels ?? {}, options: o.options ?? {}, created: new Date().toISOString(),
    };
    ctx.networks.insert(n);
    try {
      // The bridge exists from now on, so its route tells other Berths this subnet is taken.
      await createBridge(n);
      await applyTable(ctx);
      pokeHostService(ctx);
    } catch (e) {
      ctx.networks.delete(n.id);
      await deleteBridge(n.bridge).catch(() => undefined);
      throw e;
    }
    return n;
  });
  ctx.events.record('network', 'create', rec.id, rec.name, { driver: 'bridge' });
  return rec;
}

/** A /24 from the pool that neither the host's routes nor Berth's networks use. */
function pickSubnet(ctx: EngineContext) {
  const pool = parseCidr(ctx.cfg.subnetPool);
  for (let base = pool.base; base < pool.base + size(pool); base += 256) {
    const cand = { base, prefix: 24 };
    if (isFree(ctx, cand)) return cand;
  }
  throw conflict(`no free /24 left in the subnet pool ${ctx.cfg.subnetPool}: give --subnet, or remove unused networks`);
}

function isFree(ctx: EngineContext, c: ReturnType<typeof parseCidr>): boolean {
  if (ctx.networks.list().some((n) => overlaps(parseCidr(n.subnet), c))) return false;
  if (overlaps(parseCidr(ctx.cfg.defaultSubnet), c)) return false;
  return !hostRoutes().some((r) => overlaps(r.cidr, c));
}

function checkFree(ctx: EngineContext, c: ReturnType<typeof parseCidr>, given: string): void {
  const clash = ctx.networks.list().find((n) => overlaps(parseCidr(n.subnet), c));
  if (clash) throw conflict(`subnet ${given || formatCidr(c)} overlaps network ${clash.name} (${clash.subnet}): choose another --subnet`);
  if (overlaps(parseCidr(ctx.cfg.defaultSubnet), c)) throw conflict(`subnet ${formatCidr(c)} overlaps the default network (${ctx.cfg.defaultSubnet})`);
  const route = hostRoutes().find((r) => overlaps(r.cidr, c));
  if (route) throw conflict(`subnet ${formatCidr(c)} overlaps ${formatCidr(route.cidr)} routed on ${route.iface}: choose another --subnet`);
}

function pickBridge(ctx: EngineContext): string {
  const used = new Set(ctx.networks.list().map((n) => n.bridge));
  for (let i = 1; i < 10_000; i++) {
    const name = `${ctx.cfg.bridgePrefix}${i}`;
    if (name.length <= 15 && !used.has(name) && !bridgeExists(name)) return name;
  }
  throw conflict('no free bridge name left');
}

/** Replaces Berth's nftables table with one generated from the database. */
export async function applyTable(ctx: EngineContext): Promise<void> {
  const nets = ctx.networks.list();
  await nftApply(tableScript(ctx.cfg.nftTable, nets, ctx.networks.ports()), 'the network rules');
  fs.mkdirSync(path.join(ctx.cfg.runroot, 'network'), { recursive: true });
  fs.writeFileSync(tableMarker(ctx), '');
}

const tableMarker = (ctx: EngineContext) => path.join(ctx.cfg.runroot, 'network', 'nft-applied');

/** Creates the network's bridge (and the rules) when missing: first use, or after a reboot. */
export async function ensureNetworkReady(ctx: EngineContext, n: NetworkRecord): Promise<void> {
  if (bridgeExists(n.bridge) && fs.existsSync(tableMarker(ctx))) return;
  await withHostLock(async () => {
    if (!bridgeExists(n.bridge)) {
      const route = hostRoutes().find((r) => overlaps(r.cidr, parseCidr(n.subnet)));
      if (route) throw conflict(`network ${n.name} (${n.subnet}) overlaps ${formatCidr(route.cidr)} routed on ${route.iface}; change the subnet in the config`);
      await createBridge(n);
      pokeHostService(ctx);
    }
    await applyTable(ctx);
  });
}

export async function removeNetwork(ctx: EngineContext, ref: string, force: boolean, removeContainer: (id: string) => Promise<void>): Promise<string> {
  const n = ref === DEFAULT_NETWORK ? undefined : ctx.networks.resolve(ref);
  if (!n) throw conflict(`the default network "${DEFAULT_NETWORK}" cannot be removed`);
  const users = ctx.containers.list().filter((c) => c.config.networks?.some((a) => a.network === n.name));
  if (users.length && !force) {
    throw conflict(`network ${n.name} is used by container ${users[0]!.config.name}${users.length > 1 ? ` and ${users.length - 1} more` : ''}: remove them first, or use -f`);
  }
  for (const u of users) await removeContainer(u.config.id);
  ctx.networks.delete(n.id);
  await withHostLock(async () => {
    await applyTable(ctx);
    await deleteBridge(n.bridge);
  });
  ctx.events.record('network', 'remove', n.id, n.name);
  return n.name;
}

export function networkInspect(ctx: EngineContext, n: NetworkRecord): Record<string, unknown> {
  const members = ctx.networks.members(n.id);
  const containers: Record<string, unknown> = {};
  for (const [cid, ip] of members) {
    const rec = ctx.containers.get(cid);
    const ep = rec?.status.network?.endpoints.find((e) => e.networkId === n.id);
    containers[cid] = { Name: rec?.config.name ?? '', IPv4Address: `${ip}/${parseCidr(n.subnet).prefix}`, MacAddress: ep?.mac ?? '', IPv6Address: '' };
  }
  return {
    Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: 'bridge', EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: n.subnet, Gateway: n.gateway, ...(n.ipRange ? { IPRange: n.ipRange } : {}) }] },
    Internal: n.internal, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers, Options: { ...n.options, 'com.docker.network.bridge.name': n.bridge }, Labels: n.labels,
    DNSEnabled: n.dns, NetworkInterface: n.bridge,
  };
}
