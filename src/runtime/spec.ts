// Builds the OCI runtime spec for a container with Docker's secure defaults:
// bounded capabilities, the default seccomp profile, masked and read-only /proc
// and /sys paths, rlimits clamped to the host, an absolute cgroup path.
import fs from 'node:fs';
import type { OciSpec, OciMount, OciRlimit, OciDeviceRule, OciDevice, OciResources } from './oci.js';
import type { ContainerConfig, Resources } from '../engine/container-types.js';
import { containerCapabilities } from './capabilities.js';
import { defaultSeccompProfile, type LinuxSeccomp } from './seccomp.js';
import { invalidArgument } from '../engine/errors.js';
import { parseUlimit, hostHardLimits } from './ulimits.js';
import { swapAccounting } from '../sys/cgroups.js';
import { splitDev } from '../sys/libc.js';

export const INIT_PATH_IN_CONTAINER = '/run/berth-init';

export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; home: string }

export interface SpecInput {
  config: ContainerConfig;
  rootfs: string;
  user: ResolvedUser;
  cgroupsPath: string;
  /** Host files bind-mounted over /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  etcFiles: { hosts: string; resolvConf: string; hostname: string };
  initPath?: string;
  defaultUlimits: string[];
  defaultPidsLimit: number;
  netnsPath?: string;
  /** Host directory a named or anonymous volume binds (its _data, or the filesystem mounted there). */
  volumeSource?: (name: string) => string;
}

const MASKED_PATHS = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap', '/sys/dev/block'];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

// Device cgroup: deny everything, then allow what every container needs (Docker's list).
const DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },   // null
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },   // zero
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },   // full
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },   // random
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },   // urandom
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },   // tty
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },   // console
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },   // ptmx
  { allow: true, type: 'c', major: 136, access: 'rwm' },           // pts/*
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },// tun
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },// fuse
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
];

export function buildSpec(inp: SpecInput): OciSpec {
  const c = inp.config;
  const caps = containerCapabilities({ add: c.capAdd, drop: c.capDrop, privileged: c.privileged });
  const args = c.init && inp.initPath ? [INIT_PATH_IN_CONTAINER, '--', ...c.args] : c.args;
  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: c.tty,
      user: { uid: inp.user.uid, gid: inp.user.gid, additionalGids: inp.user.additionalGids, umask: 0o022 },
      args,
      env: processEnv(c, inp.user),
      cwd: c.workingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: rlimits([...inp.defaultUlimits, ...c.ulimits]),
      noNewPrivileges: c.noNewPrivileges,
    },
    root: { path: inp.rootfs, readonly: c.readOnly },
    hostname: c.hostname,
    mounts: mounts(c, inp),
    annotations: { ...c.annotations, 'io.container.manager': 'berth', 'org.opencontainers.image.stopSignal': c.stopSignal },
    linux: {
      namespaces: namespaces(c, inp.netnsPath),
      cgroupsPath: inp.cgroupsPath,
      resources: resources(c, inp.defaultPidsLimit),
      sysctl: Object.keys(c.sysctls).length ? c.sysctls : undefined,
    },
  };
  if (!c.privileged) {
    spec.linux.maskedPaths = MASKED_PATHS;
    spec.linux.readonlyPaths = READONLY_PATHS;
  } else {
    spec.linux.devices = hostDevices();
  }
  addDevices(spec, c.devices);
  const seccomp = seccompFor(c, caps);
  if (seccomp) spec.linux.seccomp = seccomp;
  return spec;
}

function processEnv(c: ContainerConfig, user: ResolvedUser): string[] {
  const env = new Map<string, string>();
  const put = (kv: string) => {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  };
  put('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  if (c.tty) put('TERM=xterm');
  put('container=berth');
  put(`HOSTNAME=${c.hostname}`);
  put(`HOME=${user.home}`);
  c.env.forEach(put);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function namespaces(c: ContainerConfig, netnsPath?: string): { type: string; path?: string }[] {
  const ns: { type: string; path?: string }[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (c.networkMode !== 'host') ns.push(netnsPath ? { type: 'network', path: netnsPath } : { type: 'network' });
  return ns;
}

function mounts(c: ContainerConfig, inp: SpecInput): OciMount[] {
  const ro = c.privileged ? [] : ['ro'];
  const list: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...ro] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${c.shmSize}`] },
  ];
  const userDests = new Set(c.mounts.map((m) => m.destination));
  const etc: [string, string][] = [['/etc/hosts', inp.etcFiles.hosts], ['/etc/resolv.conf', inp.etcFiles.resolvConf], ['/etc/hostname', inp.etcFiles.hostname]];
  for (const [dest, src] of etc) {
    if (!userDests.has(dest)) list.push({ destination: dest, type: 'bind', source: src, options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev', c.readOnly ? 'ro' : 'rw'] });
  }
  if (c.readOnly && c.readOnlyTmpfs) {
    for (const dest of ['/tmp', '/var/tmp', '/run']) {
      if (!userDests.has(dest)) list.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: ['rw', 'rprivate', 'nosuid', 'nodev', 'mode=1777'] });
    }
  }
  for (const m of c.mounts) {
    if (m.type === 'tmpfs') {
      list.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(m.options) });
    } else {
      // copy/nocopy only steer seeding a volume from the image; they are not mount options.
      const opts = m.options.filter((o) => o !== 'rw' && o !== 'ro' && o !== 'copy' && o !== 'nocopy');
      const readonly = m.options.includes('ro');
      if (!opts.some((o) => o === 'bind' || o === 'rbind')) opts.push('rbind');
      if (!opts.some((o) => /^r?(private|shared|slave)$/.test(o))) opts.push('rprivate');
      const source = m.type === 'volume' ? volumeHostPath(inp, m.source) : m.source;
      list.push({ destination: m.destination, type: 'bind', source, options: [...opts, readonly ? 'ro' : 'rw'] });
    }
  }
  if (c.init && inp.initPath) {
    list.push({ destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: inp.initPath, options: ['bind', 'rprivate', 'ro', 'nosuid', 'nodev'] });
  }
  return list;
}

function volumeHostPath(inp: SpecInput, name: string): string {
  if (!inp.volumeSource) throw invalidArgument(`volume ${name} cannot be mounted here: no volume store was given`);
  return inp.volumeSource(name);
}

function tmpfsOptions(opts: string[]): string[] {
  const out = ['rprivate', 'nosuid', 'nodev', ...opts];
  if (!opts.some((o) => o.startsWith('mode='))) out.push('mode=1777');
  return out;
}

function resources(c: ContainerConfig, defaultPids: number) {
  const r = c.resources;
  const res: OciSpec['linux']['resources'] = { devices: c.privileged ? [{ allow: true, access: 'rwm' }] : [...DEVICE_RULES], ...limitResources(r) };
  const pids = r.pidsLimit ?? defaultPids;
  if (pids > 0) res.pids = { limit: pids };
  else delete res.pids;
  return res;
}

/** The cgroup limits of `r` (no device rules): for the spec, and what `runc update --resources` reads. */
export function limitResources(r: Resources): OciResources {
  const res: OciResources = {};
  if (r.pidsLimit) res.pids = { limit: r.pidsLimit };
  if (r.memory || r.memoryReservation || r.memorySwap) {
    res.memory = {};
    if (r.memory) res.memory.limit = r.memory;
    if (r.memoryReservation) res.memory.reservation = r.memoryReservation;
    // Without swap accounting (no memsw files) the runtime cannot set it.
    if (r.memorySwap && swapAccounting()) res.memory.swap = r.memorySwap;
  }
  const quota = r.nanoCpus ? Math.round((r.nanoCpus * 100000) / 1e9) : r.cpuQuota;
  if (r.cpuShares || quota || r.cpuPeriod || r.cpusetCpus || r.cpusetMems) {
    res.cpu = {};
    if (r.cpuShares) res.cpu.shares = r.cpuShares;
    if (quota) { res.cpu.quota = quota; res.cpu.period = (!r.nanoCpus && r.cpuPeriod) || 100000; }
    else if (r.cpuPeriod) res.cpu.period = r.cpuPeriod;
    if (r.cpusetCpus) res.cpu.cpus = r.cpusetCpus;
    if (r.cpusetMems) res.cpu.mems = r.cpusetMems;
  }
  if (r.blkioWeight) res.blockIO = { weight: r.blkioWeight };
  return res;
}

// ---------- --device HOST[:CONTAINER][:PERMISSIONS] ----------

export interface DeviceMapping { pathOnHost: string; pathInContainer: string; permissions: string }

/** Docker's syntax: a second field that looks like permissions (r, w, m) is the permissions. */
export function parseDevice(spec: string): DeviceMapping {
  const parts = spec.split(':');
  const isPerms = (s: string) => /^(?!.*(.).*\1)[rwm]{1,3}$/.test(s);
  let dst = '', perms = 'rwm';
  if (parts.length === 3) { dst = parts[1]!; perms = parts[2]!; }
  else if (parts.length === 2) { if (isPerms(parts[1]!)) perms = parts[1]!; else dst = parts[1]!; }
  else if (parts.length !== 1) throw invalidArgument(`invalid --device "${spec}": use HOST[:CONTAINER][:PERMISSIONS], e.g. /dev/fuse:/dev/fuse:rwm`);
  const src = parts[0]!;
  if (!dst) dst = src;
  if (!isPerms(perms)) throw invalidArgument(`invalid --device "${spec}": permissions "${perms}" must be a combination of r, w and m`);
  if (!src.startsWith('/') || !dst.startsWith('/')) throw invalidArgument(`invalid --device "${spec}": both paths must be absolute`);
  return { pathOnHost: src, pathInContainer: dst, permissions: perms };
}

/** The device node behind a mapping, as the spec describes it; a missing host device is the user's error. */
export function resolveDevice(d: DeviceMapping): OciDevice {
  let st: fs.Stats;
  try { st = fs.statSync(d.pathOnHost); } catch {
    throw invalidArgument(`--device ${d.pathOnHost}: no such device on this host; give the path of an existing device node (e.g. /dev/fuse)`);
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw invalidArgument(`--device ${d.pathOnHost}: not a device node; give a character or block device such as /dev/fuse`);
  const { major, minor } = splitDev(st.rdev);
  return { path: d.pathInContainer, type: st.isCharacterDevice() ? 'c' : 'b', major, minor, fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid };
}


/** A node in the container's /dev plus a device-cgroup rule allowing the given access. */
function addDevices(spec: OciSpec, devices: string[]): void {
  for (const s of devices) {
    const m = parseDevice(s);
    const dev = resolveDevice(m);
    spec.linux.devices = [...(spec.linux.devices ?? []).filter((x) => x.path !== dev.path), dev];
    spec.linux.resources.devices ??= [];
    spec.linux.resources.devices.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access: m.permissions });
  }
}

/** Ulimits as rlimits, never above the host's hard limits (runc cannot raise them). */
export function rlimits(ulimits: string[]): OciRlimit[] {
  const byType = new Map<string, OciRlimit>();
  const hard = hostHardLimits();
  for (const u of ulimits) {
    const l = parseUlimit(u);
    const max = hard.get(l.type);
    if (max !== undefined) {
      l.hard = Math.min(l.hard, max);
      l.soft = Math.min(l.soft, l.hard);
    }
    byType.set(l.type, l);
  }
  return [...byType.values()];
}

function seccompFor(c: ContainerConfig, caps: string[]): LinuxSeccomp | undefined {
  if (c.privileged || c.seccompProfile === 'unconfined') return undefined;
  if (c.seccompProfile) {
    try {
      return JSON.parse(fs.readFileSync(c.seccompProfile, 'utf8')) as LinuxSeccomp;
    } catch (e) {
      throw invalidArgument(`cannot read seccomp profile ${c.seccompProfile}: ${(e as Error).message}`);
    }
  }
  return defaultSeccompProfile(caps);
}

function hostDevices(): OciDevice[] {
  const out: OciDevice[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try { names = fs.readdirSync(dir); } catch { return; }
    for (const n of names) {
      const p = `${dir}/${n}`;
      if (p === '/dev/pts' || p === '/dev/shm' || p === '/dev/mqueue' || p === '/dev/console') continue;
      let st: fs.Stats;
      try { st = fs.lstatSync(p); } catch { continue; }
      if (st.isDirectory()) walk(p);
      else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const { major, minor } = splitDev(st.rdev);
        out.push({ path: p, type: st.isCharacterDevice() ? 'c' : 'b', major, minor, fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid });
      }
    }
  };
  walk('/dev');
  return out;
}
