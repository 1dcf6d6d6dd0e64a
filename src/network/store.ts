// Networks, address allocations and published ports in SQLite. Allocation runs
// in IMMEDIATE transactions, so concurrent `run`s never get the same address.
import type { Db } from '../store/db.js';
import { writeTx } from '../store/db.js';
import type { NetworkRecord } from './types.js';
import { conflict, notFound } from '../engine/errors.js';
import { contains, intToIp, ipToInt, parseCidr, size } from './ipv4.js';
import type { PublishedPort } from './nft.js';

export class NetworkStore {
  constructor(private db: Db) {}

  list(): NetworkRecord[] {
    return (this.db.prepare('SELECT json FROM networks ORDER BY created').all() as { json: string }[]).map((r) => JSON.parse(r.json) as NetworkRecord);
  }

  find(ref: string): NetworkRecord | undefined {
    const r = this.db.prepare('SELECT json FROM networks WHERE name = ? OR id = ?').get(ref, ref) as { json: string } | undefined;
    if (r) return JSON.parse(r.json) as NetworkRecord;
    if (/^[0-9a-f]{3,63}$/.test(ref)) {
      const rows = this.db.prepare("SELECT json FROM networks WHERE id >= ? AND id < ? || 'g' LIMIT 2").all(ref, ref) as { json: string }[];
      if (rows.length > 1) throw conflict(`more than one network matches the ID prefix "${ref}"`);
      if (rows[0]) return JSON.parse(rows[0].json) as NetworkRecord;
    }
    return undefined;
  }

  resolve(ref: string): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw notFound(`network ${ref} not found: run "berth network ls" to list networks`);
    return n;
  }

  insert(n: NetworkRecord): void {
    try {
      this.db.prepare('INSERT INTO networks (id, name, created, json) VALUES (?, ?, ?, ?)').run(n.id, n.name, Date.parse(n.created), JSON.stringify(n));
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw conflict(`network with name ${n.name} already exists`);
      }
      throw e;
    }
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }

  /**
   * Allocates an address on the network for a container: `wanted` if given (and
   * free), else the lowest free one in the range. Never the network, gateway or
   * broadcast address.
   */
  allocate(n: NetworkRecord, containerId: string, wanted?: string): string {
    return writeTx(this.db, () => {
      const subnet = parseCidr(n.subnet);
      const range = n.ipRange ? parseCidr(n.ipRange) : subnet;
      const gw = ipToInt(n.gateway);
      const first = subnet.base, last = subnet.base + size(subnet) - 1;
      const taken = new Set((this.db.prepare('SELECT ip FROM network_ips WHERE network_id = ?').all(n.id) as { ip: string }[]).map((r) => ipToInt(r.ip)));
      if (wanted) {
        const w = ipToInt(wanted);
        if (!contains(subnet, w) || w === first || w === last || w === gw) {
          throw conflict(`address ${wanted} cannot be used on network ${n.name} (${n.subnet}, gateway ${n.gateway})`);
        }
        if (taken.has(w)) throw conflict(`address ${wanted} is already in use on network ${n.name}`);
        this.db.prepare('INSERT INTO network_ips (network_id, ip, container_id) VALUES (?, ?, ?)').run(n.id, wanted, containerId);
        return wanted;
      }
      const start = Math.max(range.base, first + 1), end = Math.min(range.base + size(range) - 1, last - 1);
      for (let ip = start; ip <= end; ip++) {
        if (ip === gw || taken.has(ip)) continue;
        const s = intToIp(ip);
        this.db.prepare('INSERT INTO network_ips (network_id, ip, container_id) VALUES (?, ?, ?)').run(n.id, s, containerId);
        return s;
      }
      throw conflict(`network ${n.name} (${n.ipRange ?? n.subnet}) has no free address left: remove containers or create a larger network`);
    });
  }

  release(containerId: string, networkId?: string): void {
    if (networkId) this.db.prepare('DELETE FROM network_ips WHERE container_id = ? AND network_id = ?').run(containerId, networkId);
    else this.db.prepare('DELETE FROM network_ips WHERE container_id = ?').run(containerId);
  }

  hasAddresses(containerId: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM network_ips WHERE container_id = ? LIMIT 1').get(containerId);
  }

  /** Containers with an address on the network: id → ip. */
  members(networkId: string): Map<string, string> {
    const rows = this.db.prepare('SELECT container_id, ip FROM network_ips WHERE network_id = ?').all(networkId) as { container_id: string; ip: string }[];
    return new Map(rows.map((r) => [r.container_id, r.ip]));
  }

  usedBy(networkId: string): string[] {
    return [...this.members(networkId).keys()];
  }

  // ----- published ports -----

  /** Records host ports; throws a conflict naming the port if Berth already uses it. */
  claimPorts(containerId: string, ports: PublishedPort[]): void {
    writeTx(this.db, () => {
      for (const p of ports) {
        const ip = p.hostIp || '0.0.0.0';
        const clash = this.db.prepare("SELECT container_id FROM published_ports WHERE proto = ? AND host_port = ? AND (host_ip = ? OR host_ip = '0.0.0.0' OR ? = '0.0.0.0')")
          .get(p.proto, p.hostPort, ip, ip) as { container_id: string } | undefined;
        if (clash) throw conflict(`host port ${ip}:${p.hostPort}/${p.proto} is already published by container ${clash.container_id.slice(0, 12)}`);
        this.db.prepare('INSERT INTO published_ports (proto, host_ip, host_port, container_id, container_ip, container_port) VALUES (?, ?, ?, ?, ?, ?)')
          .run(p.proto, ip, p.hostPort, containerId, p.containerIp, p.containerPort);
      }
    });
  }

  releasePorts(containerId: string): void {
    this.db.prepare('DELETE FROM published_ports WHERE container_id = ?').run(containerId);
  }

  /** Published ports (of one container, or all), as the nftables maps need them. */
  ports(containerId?: string): (PublishedPort & { containerId: string })[] {
    const sql = 'SELECT proto, host_ip, host_port, container_id, container_ip, container_port FROM published_ports' + (containerId ? ' WHERE container_id = ?' : '');
    const rows = (containerId ? this.db.prepare(sql).all(containerId) : this.db.prepare(sql).all()) as
      { proto: 'tcp' | 'udp'; host_ip: string; host_port: number; container_id: string; container_ip: string; container_port: number }[];
    return rows.map((r) => ({
      proto: r.proto, hostIp: r.host_ip === '0.0.0.0' ? '' : r.host_ip, hostPort: r.host_port,
      containerId: r.container_id, containerIp: r.container_ip, containerPort: r.container_port,
    }));
  }
}
