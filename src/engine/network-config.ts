// The networking part of a container's configuration: its network mode, the
// networks it joins (with address, MAC and aliases), published ports and DNS.
import type { EngineContext } from './context.js';
import type { ImageRunConfig } from '../image/types.js';
import type { NetworkAttachment, PortMapping } from '../network/types.js';
import { invalidArgument, notFound } from './errors.js';
import { parsePublish, exposedPorts } from '../network/ports.js';
import { ipToInt } from '../network/ipv4.js';

export const DEFAULT_NETWORK = 'berth';

export interface NetworkOptions {
  network?: string;            // one mode or network (the API's NetworkMode)
  networks?: string[];         // --network, repeatable
  ip?: string;
  mac?: string;
  aliases?: string[];
  publish?: string[];          // -p specs
  publishAll?: boolean;        // -P
  expose?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  addHosts?: string[];
}

export interface ContainerNetworking {
  networkMode: string;         // bridge | none | host | container:<id>
  networks: NetworkAttachment[];
  ports: PortMapping[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  addHosts: string[];
  /** Exposed ports as `80/tcp` (the image's, --expose and the published ones), as Docker's Config.ExposedPorts. */
  exposed?: string[];
}

export function resolveNetworking(ctx: EngineContext, o: NetworkOptions, img: ImageRunConfig): ContainerNetworking {
  const names = [...(o.network ? [o.network] : []), ...(o.networks ?? [])];
  if (!names.length) names.push(ctx.cfg.defaultNetwork);
  let mode = 'bridge';
  const networks: NetworkAttachment[] = [];
  for (const n of names) {
    const special = n === 'none' || n === 'host' || n.startsWith('container:');
    if (special) {
      if (names.length > 1) throw invalidArgument(`--network ${n} cannot be combined with other networks`);
      mode = n;
      if (n.startsWith('container:')) {
        const ref = n.slice(10);
        const target = ctx.containers.lookup(ref);
        if (!target) throw notFound(`--network ${n}: no container with name or ID "${ref}"`);
        mode = `container:${target.config.id}`;
      }
      continue;
    }
    const name = n === 'bridge' || n === 'default' ? DEFAULT_NETWORK : n;
    if (name !== DEFAULT_NETWORK && !ctx.networks.find(name)) throw notFound(`network ${n} not found: create it with "berth network create ${n}"`);
    if (networks.some((a) => a.network === name)) throw invalidArgument(`network ${n} is given twice`);
    networks.push({ network: name, aliases: [] });
  }
  if (mode === 'bridge') {
    const first = networks[0]!;
    if (o.ip) { ipToInt(o.ip); first.ip = o.ip; }
    if (o.mac) {
      if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(o.mac)) throw invalidArgument(`invalid MAC address "${o.mac}": use six hex pairs like 02:42:ac:11:00:02`);
      // The kernel refuses these only when the container starts.
      if (parseInt(o.mac.slice(0, 2), 16) & 1) throw invalidArgument(`invalid MAC address "${o.mac}": it is a multicast address (odd first byte); use a unicast one like 02:42:ac:11:00:02`);
      if (/^(00:){5}00$/.test(o.mac)) throw invalidArgument(`invalid MAC address "${o.mac}": it is all zeros; use one like 02:42:ac:11:00:02`);
      first.mac = o.mac.toLowerCase();
    }
    for (const a of networks) a.aliases = [...(o.aliases ?? [])];
  } else if (o.ip || o.mac || o.aliases?.length) {
    throw invalidArgument(`--ip, --mac-address and --network-alias need a bridge network, not --network ${mode.split(':')[0]}`);
  }
  let ports = (o.publish ?? []).flatMap(parsePublish);
  if (o.publishAll) {
    const exposed = [...Object.keys(img.ExposedPorts ?? {}), ...(o.expose ?? [])];
    for (const p of exposedPorts(exposed)) {
      if (!ports.some((q) => q.containerPort === p.containerPort && q.proto === p.proto)) ports.push(p);
    }
  }
  if (ports.length && mode !== 'bridge') {
    // Docker ignores -p with --network host (the ports are the host's already); refusing is clearer.
    throw invalidArgument(`publishing ports needs a bridge network; with --network ${mode.split(':')[0]} there is nothing to publish`);
  }
  const seen = new Set<string>();
  for (const p of ports) {
    if (!p.hostPort) continue;
    const key = `${p.proto}/${p.hostIp}/${p.hostPort}`;
    if (seen.has(key)) throw invalidArgument(`host port ${p.hostPort}/${p.proto} is published twice`);
    seen.add(key);
  }
  for (const d of o.dns ?? []) ipToInt(d);
  for (const h of o.addHosts ?? []) {
    const m = /^([^:=\s]+)[:=](.+)$/.exec(h);
    if (!m) throw invalidArgument(`invalid --add-host "${h}": use NAME:IP or NAME:host-gateway`);
    if (m[2] !== 'host-gateway') ipToInt(m[2]!);
  }
  if (mode.startsWith('container:') && (o.dns?.length || o.addHosts?.length)) {
    throw invalidArgument('--dns and --add-host cannot be used with --network container: the other container\'s settings apply');
  }
  ports = ports.map((p) => ({ ...p }));
  const key = (p: PortMapping): string => `${p.containerPort}/${p.proto}`;
  const exposed = [...new Set([...exposedPorts(Object.keys(img.ExposedPorts ?? {})), ...exposedPorts(o.expose ?? []), ...ports].map(key))];
  return {
    networkMode: mode, networks, ports, exposed,
    dns: o.dns ?? [], dnsSearch: o.dnsSearch ?? [], dnsOptions: o.dnsOptions ?? [], addHosts: o.addHosts ?? [],
  };
}
