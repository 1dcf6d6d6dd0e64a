// Berth's DNS server for containers (aardvark-dns style): one UDP socket on each
// bridge network's gateway address, answering container names and aliases of the
// networks the asking container is on, and forwarding every other question to
// the host's resolvers. It runs inside the per-host service process.
import dgram from 'node:dgram';
import fs from 'node:fs';
import { parseQuery, buildReply, buildFailure, TYPE_A, TYPE_AAAA, CLASS_IN } from './dns-wire.js';

export interface DnsRecord { container: string; names: string[]; ip: string; networks: string[] }

export interface DnsView {
  /** Records of running containers on DNS-enabled networks. */
  records(): DnsRecord[];
}

const FORWARD_TIMEOUT_MS = 2000;

export class DnsServer {
  private sockets = new Map<string, dgram.Socket>();      // gateway ip → socket
  private networkOf = new Map<string, string>();          // gateway ip → network name
  private cache: DnsRecord[] = [];
  private cacheAt = 0;

  constructor(private view: DnsView) {}

  /** Listens on exactly these gateways (network name → gateway address); resolves when bound. */
  async sync(gateways: Map<string, string>): Promise<void> {
    const wanted = new Set(gateways.values());
    for (const [ip, sock] of this.sockets) {
      if (!wanted.has(ip)) { sock.close(); this.sockets.delete(ip); this.networkOf.delete(ip); }
    }
    const binds: Promise<void>[] = [];
    for (const [network, ip] of gateways) {
      this.networkOf.set(ip, network);
      if (this.sockets.has(ip)) continue;
      const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      sock.on('message', (msg, rinfo) => this.answer(sock, ip, msg, rinfo));
      this.sockets.set(ip, sock);
      binds.push(new Promise<void>((resolve) => {
        // A failure (e.g. the bridge lost its address) is retried on the next sync.
        sock.once('error', () => { sock.close(); this.sockets.delete(ip); resolve(); });
        sock.bind(53, ip, () => resolve());
      }));
    }
    await Promise.all(binds);
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private records(force: boolean): DnsRecord[] {
    if (force || Date.now() - this.cacheAt > 1000) {
      this.cache = this.view.records();
      this.cacheAt = Date.now();
    }
    return this.cache;
  }

  /** Containers the asker may resolve: those sharing a network with it (or on the network asked through). */
  private lookup(name: string, askerIp: string, via: string, force: boolean): DnsRecord[] {
    const recs = this.records(force);
    // Every network of the asking container (it may ask through any of its addresses).
    const asker = recs.find((r) => r.ip === askerIp)?.container;
    const scope = new Set(asker ? recs.filter((r) => r.container === asker).flatMap((r) => r.networks) : [this.networkOf.get(via) ?? '']);
    const bare = name.replace(/\.$/, '');
    return recs.filter((r) => r.networks.some((n) => scope.has(n)) &&
      r.names.some((n) => bare === n || bare === `${n}.berth` || r.networks.some((net) => bare === `${n}.${net}`)));
  }

  private answer(sock: dgram.Socket, via: string, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const q = parseQuery(msg);
    if (!q || q.cls !== CLASS_IN) return;
    let hits = this.lookup(q.name, rinfo.address, via, false);
    if (!hits.length && (q.type === TYPE_A || q.type === TYPE_AAAA)) hits = this.lookup(q.name, rinfo.address, via, true);
    if (hits.length) {
      // Known name: A records; for other types an empty answer (the name exists).
      const ips = q.type === TYPE_A ? [...new Set(hits.map((h) => h.ip))] : [];
      sock.send(buildReply(msg, q, ips), rinfo.port, rinfo.address);
      return;
    }
    this.forward(sock, msg, q, rinfo);
  }

  private forward(sock: dgram.Socket, msg: Buffer, q: ReturnType<typeof parseQuery> & object, rinfo: dgram.RemoteInfo): void {
    const upstream = hostResolvers()[0];
    if (!upstream) { sock.send(buildReply(msg, q, [], { nx: true }), rinfo.port, rinfo.address); return; }
    const out = dgram.createSocket('udp4');
    const done = () => { clearTimeout(timer); out.close(); };
    const timer = setTimeout(() => { done(); sock.send(buildFailure(msg, q), rinfo.port, rinfo.address); }, FORWARD_TIMEOUT_MS);
    out.on('message', (reply) => { done(); sock.send(reply, rinfo.port, rinfo.address); });
    out.on('error', () => { done(); sock.send(buildFailure(msg, q), rinfo.port, rinfo.address); });
    out.send(msg, 53, upstream);
  }
}

/** The host's own nameservers (IPv4), from /etc/resolv.conf. */
export function hostResolvers(): string[] {
  let text = '';
  try { text = fs.readFileSync('/etc/resolv.conf', 'utf8'); } catch { return []; }
  return text.split('\n').map((l) => /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(l)?.[1]).filter((x): x is string => !!x);
}
