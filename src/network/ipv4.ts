// IPv4 and CIDR arithmetic, and the host's routes (read from /proc, no spawning:
// subnet selection must never rely on probing addresses).
import fs from 'node:fs';
import { invalidArgument } from '../engine/errors.js';

export interface Cidr { base: number; prefix: number }

export function ipToInt(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) throw invalidArgument(`invalid IPv4 address "${ip}"`);
  return ((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4]);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const mask = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

export function parseCidr(s: string): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s.trim());
  if (!m || Number(m[2]) > 32) throw invalidArgument(`invalid subnet "${s}": use CIDR notation such as 10.91.0.0/24`);
  const prefix = Number(m[2]);
  const ip = ipToInt(m[1]!);
  const base = (ip & mask(prefix)) >>> 0;
  if (base !== ip) throw invalidArgument(`invalid subnet "${s}": host bits are set (did you mean ${intToIp(base)}/${prefix}?)`);
  if (prefix > 30) throw invalidArgument(`subnet "${s}" is too small: use a /30 or larger`);
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.prefix}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b.base) || contains(b, a.base);
}

/** Routes of the host's main table (destination CIDRs), from /proc/net/route. */
export function hostRoutes(): { cidr: Cidr; iface: string }[] {
  let text = '';
  try { text = fs.readFileSync('/proc/net/route', 'utf8'); } catch { return []; }
  const out: { cidr: Cidr; iface: string }[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = le32(f[1]!), pfx = popcount(le32(f[7]!));
    if (pfx === 0) continue; // the default route covers everything: not a conflict
    out.push({ cidr: { base: dest, prefix: pfx }, iface: f[0]! });
  }
  return out;
}

function le32(hex: string): number {
  const n = parseInt(hex, 16);
  return (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | ((n >>> 24) & 255)) >>> 0;
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x &= x - 1) c++;
  return c;
}
