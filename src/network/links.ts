// Bridges, veth pairs and network namespaces, each change as one `ip -batch`
// on the host and one inside the container's namespace.
import fs from 'node:fs';
import type { NetworkRecord, NetworkEndpoint } from './types.js';
import { run } from '../sys/exec.js';
import { parseCidr } from './ipv4.js';
import { libc } from '../sys/libc.js';
import { BerthError } from '../engine/errors.js';

const MNT_DETACH = 2;
const EINVAL = 22; // not a mount point (a half-made namespace): only the file is left

export const NETNS_DIR = '/run/netns';

/** Named network namespace of a container (a bind mount in /run/netns, like `ip netns add`). */
export function netnsName(containerId: string): string {
  return `berth-${containerId.slice(0, 16)}`;
}

export function netnsPath(containerId: string): string {
  return `${NETNS_DIR}/${netnsName(containerId)}`;
}

/** The host end of a container's veth on its n-th network (15 characters at most). */
export function hostIfaceName(containerId: string, index: number): string {
  return `vb${containerId.slice(0, 11)}${index.toString(36)}`;
}

export function macFor(ip: string): string {
  // Locally administered, derived from the address (Docker does the same with 02:42).
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

async function ipBatch(lines: string[], netns?: string): Promise<void> {
  if (!lines.length) return;
  const r = await run('ip', [...(netns ? ['-n', netns] : []), '-batch', '-'], { input: lines.join('\n') + '\n', allowFailure: true });
  if (r.code === 0) return;
  // ip says which line failed last ("Command failed -:N") and why before it ("RTNETLINK answers: …").
  const failed = /Command failed -:(\d+)/.exec(r.stderr);
  const why = r.stderr.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('Command failed')) ?? `exit status ${r.code}`;
  const where = netns ? `inside network namespace ${netns}` : 'on the host';
  const what = failed ? ` "ip ${lines[Number(failed[1]) - 1] ?? ''}"` : '';
  throw new BerthError('runtime', `network setup failed ${where}:${what}: ${why}`);
}

export function bridgeExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}

/** Creates the network's bridge with its gateway address. */
export async function createBridge(n: NetworkRecord): Promise<void> {
  const { prefix } = parseCidr(n.subnet);
  const lines = [`link add ${n.bridge} type bridge`, `addr add ${n.gateway}/${prefix} dev ${n.bridge}`];
  if (n.mtu) lines.push(`link set ${n.bridge} mtu ${n.mtu}`);
  lines.push(`link set ${n.bridge} up`);
  await ipBatch(lines);
  // Published ports on 127.0.0.1 are forwarded to the bridge (the nft guard drops 127/8 from outside).
  writeSysctl(`/proc/sys/net/ipv4/conf/${n.bridge}/route_localnet`, '1');
  writeSysctl('/proc/sys/net/ipv4/ip_forward', '1');
}

export async function deleteBridge(name: string): Promise<void> {
  if (bridgeExists(name)) await ipBatch([`link del ${name}`]);
}

function writeSysctl(file: string, value: string): void {
  try {
    if (fs.readFileSync(file, 'utf8').trim() !== value) fs.writeFileSync(file, value);
  } catch { /* not writable here (rootless): published 127.0.0.1 ports will not work */ }
}

export interface EndpointPlan { endpoint: NetworkEndpoint; network: NetworkRecord; defaultRoute: boolean }

/**
 * Connects a container to networks: creates its namespace when `createNetns` and
 * a veth pair per network with the container end inside; resolves once the
 * namespace and links exist, with `inside` for the addresses and routes inside.
 * (Wrapped in an object: an async function returning the promise itself would
 * only resolve once that one had.)
 */
export async function attach(containerId: string, plans: EndpointPlan[], createNetns: boolean): Promise<{ inside: Promise<void> }> {
  const ns = netnsName(containerId);
  const host: string[] = [];
  const inside: string[] = [];
  if (createNetns) {
    host.push(`netns add ${ns}`);
    inside.push('link set lo up');
  }
  for (const { endpoint: e, network: n, defaultRoute } of plans) {
    // The names are this container's own, but a namespace released a moment ago (a stop,
    // then a start) takes its veths with it asynchronously: let the old one go first.
    if (!(await gone(e.hostIface))) host.push(`link del ${e.hostIface}`);
    const mtu = n.mtu ? ` mtu ${n.mtu}` : '';
    // Enslaved and up as it is made (one request fewer each); hairpin needs the port to exist.
    host.push(`link add ${e.hostIface}${mtu} master ${n.bridge} up type veth peer name ${e.iface}${mtu} netns ${ns}`);
    host.push(`link set ${e.hostIface} type bridge_slave hairpin on`);
    inside.push(`link set ${e.iface} address ${e.mac}`);
    inside.push(`addr add ${e.ip}/${e.prefix} dev ${e.iface}`);
    inside.push(`link set ${e.iface} up`);
    if (defaultRoute) inside.push(`route add default via ${e.gateway} dev ${e.iface}`);
  }
  await ipBatch(host);
  // The namespace exists now (runc can be pointed at it); addresses and routes only
  // have to be there before the container's process starts, so the caller may overlap this.
  return { inside: ipBatch(inside, ns) };
}

/** Waits up to a second for a network interface to disappear; false if it is still there. */
async function gone(name: string): Promise<boolean> {
  for (let waited = 0; bridgeExists(name); waited += 5) {
    if (waited >= 1000) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/** Removes one network's veth from a running container (the peer goes with it). */
export async function detach(hostIface: string): Promise<void> {
  if (bridgeExists(hostIface)) await ipBatch([`link del ${hostIface}`]);
}

/**
 * Drops the container's namespace; the kernel destroys its veths with it,
 * asynchronously (attach() waits for them when the same container starts again).
 * What `ip netns del` does (detach the bind mount that pins the namespace,
 * remove the file), without spawning ip.
 */
export async function removeNetns(containerId: string): Promise<void> {
  const file = netnsPath(containerId);
  if (!fs.existsSync(file)) return;
  if ((libc().umount2(file, MNT_DETACH) as number) !== 0 && libc().errno() !== EINVAL) {
    await ipBatch([`netns del ${netnsName(containerId)}`]); // let ip try, and report
    return;
  }
  fs.rmSync(file, { force: true });
}
