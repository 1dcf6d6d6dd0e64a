// Published ports: `-p [ip:][hostPort:]containerPort[/tcp|udp]` with ranges, and
// finding host ports that nothing else on the host uses.
import net from 'node:net';
import dgram from 'node:dgram';
import type { PortMapping } from './types.js';
import { invalidArgument, conflict } from '../engine/errors.js';
import { ipToInt } from './ipv4.js';

function port(s: string, spec: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 65535) {
    throw invalidArgument(`invalid port "${s}" in "${spec}": ports are numbers from 1 to 65535`);
  }
  return Number(s);
}

function range(s: string, spec: string): [number, number] {
  const [a, b] = s.split('-');
  const lo = port(a!, spec), hi = b === undefined ? lo : port(b, spec);
  if (hi < lo) throw invalidArgument(`invalid port range "${s}" in "${spec}": the end is below the start`);
  return [lo, hi];
}

export function parsePublish(spec: string): PortMapping[] {
  let rest = spec.trim();
  let proto: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1);
    if (p !== 'tcp' && p !== 'udp') throw invalidArgument(`invalid protocol "${p}" in "${spec}": use tcp or udp`);
    proto = p;
    rest = rest.slice(0, slash);
  }
  const parts = rest.split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && i === parts.length - 1)) {
    throw invalidArgument(`invalid port mapping "${spec}": use [ip:][hostPort:]containerPort[/tcp|udp]`);
  }
  const containerPart = parts.pop()!;
  const hostPart = parts.pop() ?? '';
  let hostIp = parts.pop() ?? '';
  if (hostIp.startsWith('[')) throw invalidArgument(`IPv6 host addresses are not supported in "${spec}"`);
  if (hostIp) ipToInt(hostIp);
  if (hostIp === '0.0.0.0') hostIp = '';
  const [cLo, cHi] = range(containerPart, spec);
  const count = cHi - cLo + 1;
  let hLo = 0;
  if (hostPart) {
    const [lo, hi] = range(hostPart, spec);
    if (hi - lo + 1 !== count) {
      if (count === 1) hLo = lo; // a host range for one container port: Docker picks from it; take its first
      else throw invalidArgument(`invalid port mapping "${spec}": the host and container ranges differ in size`);
    } else hLo = lo;
  }
  return Array.from({ length: count }, (_, i) => ({ hostIp, hostPort: hostPart ? hLo + i : 0, containerPort: cLo + i, proto }));
}

/** Parses `80/tcp` style keys of an image's ExposedPorts. */
export function exposedPorts(keys: string[]): PortMapping[] {
  return keys.flatMap((k) => parsePublish(k)).map((p) => ({ ...p, hostPort: 0 }));
}

/**
 * Checks that `hostIp:hostPort` is free on the host by binding it for a moment
 * (a port some program listens on must not be hijacked by our DNAT). Port 0
 * asks the kernel for a free one; the chosen port is returned.
 */
export async function reservePort(p: PortMapping): Promise<number> {
  const host = p.hostIp || '0.0.0.0';
  if (p.proto === 'udp') {
    const sock = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => { sock.once('error', reject); sock.bind(p.hostPort, host, () => resolve()); });
      return sock.address().port;
    } catch (e) {
      throw busy(p, e);
    } finally {
      sock.close();
    }
  }
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen({ port: p.hostPort, host, exclusive: true }, () => resolve()); });
    return (server.address() as net.AddressInfo).port;
  } catch (e) {
    throw busy(p, e);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

function busy(p: PortMapping, e: unknown) {
  const code = (e as NodeJS.ErrnoException).code;
  const where = `${p.hostIp || '0.0.0.0'}:${p.hostPort}/${p.proto}`;
  if (code === 'EADDRINUSE') return conflict(`host port ${where} is already in use by another program: choose another port`);
  if (code === 'EADDRNOTAVAIL') return invalidArgument(`cannot publish on ${where}: ${p.hostIp} is not an address of this host`);
  return conflict(`cannot use host port ${where}: ${(e as Error).message}`);
}
