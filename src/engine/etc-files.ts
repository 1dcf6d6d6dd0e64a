// The /etc/hosts, /etc/resolv.conf and /etc/hostname each container gets.
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from './context.js';
import type { ContainerConfig } from './container-types.js';
import type { NetworkEndpoint } from '../network/types.js';
import { networkByName } from './network-ops.js';

export interface EtcFiles { hosts: string; resolvConf: string; hostname: string }

export function writeEtcFiles(ctx: EngineContext, bundle: string, c: ContainerConfig, endpoints: NetworkEndpoint[]): EtcFiles {
  if (c.networkMode.startsWith('container:')) {
    // The other container's files: it owns the network namespace.
    const other = ctx.paths.bundle(c.networkMode.slice(10));
    const files = { hosts: path.join(other, 'hosts'), resolvConf: path.join(other, 'resolv.conf'), hostname: path.join(bundle, 'hostname') };
    fs.writeFileSync(files.hostname, c.hostname + '\n');
    return files;
  }
  const files = { hosts: path.join(bundle, 'hosts'), resolvConf: path.join(bundle, 'resolv.conf'), hostname: path.join(bundle, 'hostname') };
  fs.writeFileSync(files.hostname, c.hostname + '\n');
  fs.writeFileSync(files.hosts, hostsFile(c, endpoints));
  fs.writeFileSync(files.resolvConf, resolvConf(ctx, c, endpoints));
  return files;
}

function hostsFile(c: ContainerConfig, endpoints: NetworkEndpoint[]): string {
  const gateway = endpoints[0]?.gateway;
  const extra = c.addHosts.map((h) => {
    const i = h.search(/[:=]/);
    const ip = h.slice(i + 1);
    return `${ip === 'host-gateway' ? gateway ?? '127.0.0.1' : ip}\t${h.slice(0, i)}`;
  });
  if (c.networkMode === 'host') {
    let host = '';
    try { host = fs.readFileSync('/etc/hosts', 'utf8'); } catch { /* none */ }
    return host + (host.endsWith('\n') || !host ? '' : '\n') + extra.map((l) => l + '\n').join('');
  }
  const lines = [
    '127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4',
    '::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6',
  ];
  if (endpoints.length) {
    for (const e of endpoints) lines.push(`${e.ip}\t${c.hostname} ${c.name}`);
    // The host, as seen from the container: its bridge address.
    lines.push(`${gateway}\thost.containers.internal host.docker.internal`);
  } else {
    lines.push(`127.0.1.1\t${c.hostname} ${c.name}`);
  }
  return [...lines, ...extra, ''].join('\n');
}

function resolvConf(ctx: EngineContext, c: ContainerConfig, endpoints: NetworkEndpoint[]): string {
  let host = '';
  try { host = fs.readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* none */ }
  const hostLines = host.split('\n');
  const hostServers = hostLines.filter((l) => /^\s*nameserver\s/.test(l)).map((l) => l.trim().split(/\s+/)[1]!);
  const search = c.dnsSearch.length ? c.dnsSearch : hostLines.filter((l) => /^\s*search\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  const options = c.dnsOptions.length ? c.dnsOptions : hostLines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  let servers: string[];
  if (c.dns.length) servers = c.dns;
  else if (c.networkMode === 'host' || !endpoints.length) servers = hostServers;
  else {
    // Berth's DNS server on the gateway answers container names and forwards the rest.
    const dnsNet = endpoints.find((e) => networkByName(ctx, e.network).dns);
    servers = dnsNet ? [dnsNet.gateway] : hostServers.filter((s) => !s.startsWith('127.'));
  }
  return [
    ...(search.length ? [`search ${search.join(' ')}`] : []),
    ...servers.map((s) => `nameserver ${s}`),
    ...(options.length ? [`options ${options.join(' ')}`] : []),
    '',
  ].join('\n');
}
