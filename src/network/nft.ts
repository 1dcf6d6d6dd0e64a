// Berth's nftables table: egress NAT, isolation between networks, internal
// networks, and published ports as map elements (a publish is an element
// change, not a rule change). Everything goes through one `nft -f -` per change.
import type { NetworkRecord } from './types.js';
import { run } from '../sys/exec.js';

export interface PublishedPort { proto: 'tcp' | 'udp'; hostIp: string; hostPort: number; containerIp: string; containerPort: number }

const q = (s: string) => JSON.stringify(s);

/** The whole table, for an atomic replace (used when networks change). */
export function tableScript(table: string, networks: NetworkRecord[], ports: PublishedPort[]): string {
  const lines: string[] = [];
  // Declaring first makes `delete` succeed when the table does not exist yet.
  lines.push(`table ip ${table} {}`, `delete table ip ${table}`, `table ip ${table} {`);
  const bridges = networks.map((n) => q(n.bridge));
  lines.push(`  set bridges {`, `    type ifname`, ...(bridges.length ? [`    elements = { ${bridges.join(', ')} }`] : []), `  }`);
  for (const proto of ['tcp', 'udp']) {
    const any = ports.filter((p) => p.proto === proto && !p.hostIp);
    const byIp = ports.filter((p) => p.proto === proto && p.hostIp);
    lines.push(`  map pub_${proto} {`, `    type inet_service : ipv4_addr . inet_service`);
    if (any.length) lines.push(`    elements = { ${any.map((p) => `${p.hostPort} : ${p.containerIp} . ${p.containerPort}`).join(', ')} }`);
    lines.push(`  }`, `  map pubip_${proto} {`, `    type ipv4_addr . inet_service : ipv4_addr . inet_service`);
    if (byIp.length) lines.push(`    elements = { ${byIp.map((p) => `${p.hostIp} . ${p.hostPort} : ${p.containerIp} . ${p.containerPort}`).join(', ')} }`);
    lines.push(`  }`);
  }
  // 127.0.0.1 publishing needs route_localnet on the bridges; never accept 127/8 from outside (CVE-2020-8558).
  lines.push(`  chain guard {`, `    type filter hook prerouting priority raw; policy accept;`, `    iifname != "lo" ip daddr 127.0.0.0/8 drop`, `  }`);
  lines.push(`  chain publish {`);
  for (const proto of ['tcp', 'udp']) {
    lines.push(`    meta l4proto ${proto} dnat ip to ip daddr . ${proto} dport map @pubip_${proto}`);
    lines.push(`    meta l4proto ${proto} dnat ip to ${proto} dport map @pub_${proto}`);
  }
  lines.push(`  }`);
  lines.push(`  chain prerouting {`, `    type nat hook prerouting priority dstnat; policy accept;`, `    fib daddr type local jump publish`, `  }`);
  lines.push(`  chain output {`, `    type nat hook output priority -100; policy accept;`, `    fib daddr type local jump publish`, `  }`);
  lines.push(`  chain postrouting {`, `    type nat hook postrouting priority srcnat; policy accept;`);
  for (const n of networks) {
    const br = q(n.bridge);
    if (!n.internal) lines.push(`    ip saddr ${n.subnet} oifname != ${br} masquerade`);
    // Published ports reached from the host's loopback, and hairpin (a container through the host to a neighbour or itself).
    lines.push(`    oifname ${br} ip saddr 127.0.0.0/8 ct status dnat masquerade`);
    lines.push(`    oifname ${br} ip saddr ${n.subnet} ct status dnat masquerade`);
  }
  lines.push(`  }`);
  lines.push(`  chain forward {`, `    type filter hook forward priority filter; policy accept;`);
  for (const n of networks) {
    const br = q(n.bridge);
    if (n.internal) {
      lines.push(`    iifname ${br} oifname != ${br} drop`, `    oifname ${br} iifname != ${br} drop`);
    } else {
      // Different networks do not talk to each other.
      lines.push(`    iifname ${br} oifname != ${br} oifname @bridges drop`);
    }
  }
  lines.push(`  }`, `}`);
  return lines.join('\n') + '\n';
}

function elementKey(p: PublishedPort): string {
  return p.hostIp ? `${p.hostIp} . ${p.hostPort}` : `${p.hostPort}`;
}

function mapName(p: PublishedPort): string {
  return `${p.hostIp ? 'pubip' : 'pub'}_${p.proto}`;
}

export function addPortsScript(table: string, ports: PublishedPort[]): string {
  return ports.map((p) => `add element ip ${table} ${mapName(p)} { ${elementKey(p)} : ${p.containerIp} . ${p.containerPort} }`).join('\n') + '\n';
}

export function deletePortsScript(table: string, ports: PublishedPort[]): string {
  return ports.map((p) => `delete element ip ${table} ${mapName(p)} { ${elementKey(p)} }`).join('\n') + '\n';
}

export async function nftApply(script: string, what: string): Promise<void> {
  await run('nft', ['-f', '-'], { input: script, hint: `applying ${what}; is nftables installed (apt-get install nftables)?` });
}
