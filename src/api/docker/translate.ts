// Docker's container create body (Config + HostConfig + NetworkingConfig) and
// update body, checked field by field and turned into the Engine's
// CreateOptions / Resources. Unknown fields are ignored (as moby does, so newer
// clients work); fields Berth cannot honour yet become Warnings that the CLI
// prints; a value of the wrong type is a 400 that names the field.
import type { CreateOptions } from '../../engine/engine.js';
import type { MountSpec, Resources } from '../../engine/container-types.js';
import { parseResources, type ResourceArgs } from '../../engine/resources.js';
import { parseMount } from '../../engine/parse.js';
import { badRequest } from './errors.js';

type Json = Record<string, unknown>;

// ---------- typed field access ----------

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const wrong = (field: string, want: string, v: unknown) =>
  badRequest(`invalid value for ${field}: expected ${want}, got ${typeName(v)} ${JSON.stringify(v)?.slice(0, 60) ?? ''}`.trim());

export function object(v: unknown, field: string): Json | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw wrong(field, 'an object', v);
  return v as Json;
}

export function string(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw wrong(field, 'a string', v);
  return v;
}

export function boolean(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw wrong(field, 'true or false', v);
  return v;
}

export function integer(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw wrong(field, 'an integer', v);
  return v;
}

export function strings(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw wrong(field, 'an array of strings', v);
  return v as string[];
}

/** Docker's StrSlice: a string or an array of strings. */
function strSlice(v: unknown, field: string): string[] | undefined {
  return typeof v === 'string' ? [v] : strings(v, field);
}

export function stringMap(v: unknown, field: string): Record<string, string> | undefined {
  const o = object(v, field);
  if (!o) return undefined;
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') throw wrong(`${field}.${k}`, 'a string', x);
  return o as Record<string, string>;
}

// ---------- create ----------

export interface Translated { options: CreateOptions; warnings: string[]; consoleSize?: { rows: number; cols: number } }

/** Docker's "default" means the Engine's default network (Docker's "bridge"). */
function networkMode(mode: string | undefined, disabled: boolean | undefined): string | undefined {
  if (disabled) return 'none';
  if (!mode || mode === 'default') return undefined;
  return mode;
}

export function translateCreate(body: Json, name: string | undefined): Translated {
  const warnings: string[] = [];
  const image = string(body.Image, 'Image');
  if (!image) throw badRequest('no image given: set "Image" in the request body (e.g. "busybox")');
  const hc = object(body.HostConfig, 'HostConfig') ?? {};
  // Never pull here: a 404 makes the client pull (with its own progress and credentials) and retry.
  const o: CreateOptions = { image, pull: 'never' };
  if (name) o.name = name.replace(/^\//, '');
  const cmd = strSlice(body.Cmd, 'Cmd');
  if (cmd?.length) o.cmd = cmd;
  const entrypoint = strSlice(body.Entrypoint, 'Entrypoint');
  // [""] (the CLI's --entrypoint "") clears the image's entrypoint.
  if (entrypoint) o.entrypoint = entrypoint.length === 1 && entrypoint[0] === '' ? [] : entrypoint;
  o.env = strings(body.Env, 'Env') ?? [];
  const user = string(body.User, 'User');
  if (user) o.user = user;
  const workdir = string(body.WorkingDir, 'WorkingDir');
  if (workdir) o.workingDir = workdir;
  const hostname = string(body.Hostname, 'Hostname');
  if (hostname) o.hostname = hostname;
  o.tty = !!boolean(body.Tty, 'Tty');
  o.openStdin = !!boolean(body.OpenStdin, 'OpenStdin');
  o.labels = stringMap(body.Labels, 'Labels') ?? {};
  const stopSignal = string(body.StopSignal, 'StopSignal');
  if (stopSignal) o.stopSignal = stopSignal;
  const stopTimeout = integer(body.StopTimeout, 'StopTimeout');
  if (stopTimeout !== undefined) o.stopTimeout = stopTimeout;
  const health = object(body.Healthcheck, 'Healthcheck');
  if (health) o.health = healthFlags(health);
  // Every kind of mount of HostConfig, and Config.Volumes' anonymous volumes where no mount covers them (compose sends both).
  const binds = strings(hc.Binds, 'HostConfig.Binds') ?? [];
  o.mounts = (arrayOf(hc.Mounts, 'HostConfig.Mounts')).map((m, i) => mountSpec(m, `HostConfig.Mounts[${i}]`));
  o.tmpfs = Object.entries(stringMap(hc.Tmpfs, 'HostConfig.Tmpfs') ?? {}).map(([dst, opts]) => (opts ? `${dst}:${opts}` : dst));
  const norm = (p: string) => p.replace(/\/+$/, '') || '/';
  const covered = new Set([...binds.map((b) => b.split(':')[1] ?? ''), ...o.mounts.map((m) => m.destination), ...o.tmpfs.map((t) => t.split(':')[0]!)].map(norm));
  const anon = Object.keys(object(body.Volumes, 'Volumes') ?? {}).filter((d) => !covered.has(norm(d)));
  o.volumes = [...anon, ...binds];
  o.volumesFrom = strings(hc.VolumesFrom, 'HostConfig.VolumesFrom') ?? [];
  const network = networkMode(string(hc.NetworkMode, 'HostConfig.NetworkMode'), boolean(body.NetworkDisabled, 'NetworkDisabled'));
  if (network) o.network = network;
  o.autoRemove = !!boolean(hc.AutoRemove, 'HostConfig.AutoRemove');
  o.privileged = !!boolean(hc.Privileged, 'HostConfig.Privileged');
  o.capAdd = strings(hc.CapAdd, 'HostConfig.CapAdd') ?? [];
  o.capDrop = strings(hc.CapDrop, 'HostConfig.CapDrop') ?? [];
  o.securityOpt = strings(hc.SecurityOpt, 'HostConfig.SecurityOpt') ?? [];
  o.init = !!boolean(hc.Init, 'HostConfig.Init');
  o.readOnly = !!boolean(hc.ReadonlyRootfs, 'HostConfig.ReadonlyRootfs');
  o.groupAdd = strings(hc.GroupAdd, 'HostConfig.GroupAdd') ?? [];
  o.sysctls = stringMap(hc.Sysctls, 'HostConfig.Sysctls') ?? {};
  o.annotations = stringMap(hc.Annotations, 'HostConfig.Annotations') ?? {};
  o.ulimits = arrayOf(hc.Ulimits, 'HostConfig.Ulimits').map((u, i) => {
    const f = `HostConfig.Ulimits[${i}]`;
    return `${string(u.Name, `${f}.Name`)}=${integer(u.Soft, `${f}.Soft`) ?? 0}:${integer(u.Hard, `${f}.Hard`) ?? 0}`;
  });
  o.devices = arrayOf(hc.Devices, 'HostConfig.Devices').map((d, i) => {
    const f = `HostConfig.Devices[${i}]`;
    const host = string(d.PathOnHost, `${f}.PathOnHost`) ?? '';
    return [host, string(d.PathInContainer, `${f}.PathInContainer`) || host, string(d.CgroupPermissions, `${f}.CgroupPermissions`) || 'rwm'].join(':');
  });
  const shm = integer(hc.ShmSize, 'HostConfig.ShmSize');
  if (shm) o.shmSize = shm;
  const cgroupParent = string(hc.CgroupParent, 'HostConfig.CgroupParent');
  if (cgroupParent) o.cgroupParent = cgroupParent;
  const restart = object(hc.RestartPolicy, 'HostConfig.RestartPolicy');
  const restartName = string(restart?.Name, 'HostConfig.RestartPolicy.Name');
  if (restartName && restartName !== 'no') {
    if (!['always', 'unless-stopped', 'on-failure'].includes(restartName)) throw badRequest(`invalid restart policy "${restartName}": use no, always, unless-stopped or on-failure`);
    o.restartPolicy = { name: restartName as 'always', maximumRetryCount: integer(restart?.MaximumRetryCount, 'HostConfig.RestartPolicy.MaximumRetryCount') ?? 0 };
  }
  const logConfig = object(hc.LogConfig, 'HostConfig.LogConfig');
  const logType = string(logConfig?.Type, 'HostConfig.LogConfig.Type');
  if (logType) o.logDriver = logType;
  o.logOpts = stringMap(logConfig?.Config, 'HostConfig.LogConfig.Config') ?? {};
  o.resources = resources(hc, 'HostConfig');
  networking(body, hc, o);
  unsupported(body, hc, warnings);
  const size = integers(hc.ConsoleSize, 'HostConfig.ConsoleSize');
  return { options: o, warnings, consoleSize: size && size[0] && size[1] ? { rows: size[0], cols: size[1] } : undefined };
}

function integers(v: unknown, field: string): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x))) throw wrong(field, 'an array of integers', v);
  return v as number[];
}

function arrayOf(v: unknown, field: string): Json[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw wrong(field, 'an array', v);
  return v.map((x, i) => object(x, `${field}[${i}]`) ?? {});
}

/** A HostConfig.Mounts entry as the Engine's MountSpec (through --mount's parser, so the rules are the CLI's). */
function mountSpec(m: Json, field: string): MountSpec {
  const type = string(m.Type, `${field}.Type`) ?? 'volume';
  const parts = [`type=${type}`];
  const source = string(m.Source, `${field}.Source`);
  if (source) parts.push(`source=${source}`);
  parts.push(`target=${string(m.Target, `${field}.Target`) ?? ''}`);
  if (boolean(m.ReadOnly, `${field}.ReadOnly`)) parts.push('readonly');
  const bind = object(m.BindOptions, `${field}.BindOptions`);
  const propagation = string(bind?.Propagation, `${field}.BindOptions.Propagation`);
  if (propagation) parts.push(`bind-propagation=${propagation}`);
  const vol = object(m.VolumeOptions, `${field}.VolumeOptions`);
  if (boolean(vol?.NoCopy, `${field}.VolumeOptions.NoCopy`)) parts.push('volume-nocopy');
  for (const [k, v] of Object.entries(stringMap(vol?.Labels, `${field}.VolumeOptions.Labels`) ?? {})) parts.push(`volume-label=${k}=${v}`);
  const driver = object(vol?.DriverConfig, `${field}.VolumeOptions.DriverConfig`);
  const driverName = string(driver?.Name, `${field}.VolumeOptions.DriverConfig.Name`);
  if (driverName) parts.push(`volume-driver=${driverName}`);
  for (const [k, v] of Object.entries(stringMap(driver?.Options, `${field}.VolumeOptions.DriverConfig.Options`) ?? {})) parts.push(`volume-opt=${k}=${v}`);
  const tmpfs = object(m.TmpfsOptions, `${field}.TmpfsOptions`);
  const size = integer(tmpfs?.SizeBytes, `${field}.TmpfsOptions.SizeBytes`);
  if (size) parts.push(`tmpfs-size=${size}`);
  const mode = integer(tmpfs?.Mode, `${field}.TmpfsOptions.Mode`);
  if (mode) parts.push(`tmpfs-mode=${mode.toString(8)}`);
  // Quote each field so commas in paths survive the CSV syntax.
  return parseMount(parts.map((p) => `"${p.replace(/"/g, '""')}"`).join(','));
}

/** Docker's Healthcheck (durations in ns) as the Engine's health flags. */
function healthFlags(h: Json): NonNullable<CreateOptions['health']> {
  const test = strings(h.Test, 'Healthcheck.Test');
  const dur = (k: string) => {
    const ns = integer(h[k], `Healthcheck.${k}`);
    return ns ? `${ns / 1e6}ms` : undefined;
  };
  if (test?.[0] === 'NONE') return { none: true };
  const flags: NonNullable<CreateOptions['health']> = {
    interval: dur('Interval'), timeout: dur('Timeout'), startPeriod: dur('StartPeriod'),
    retries: integer(h.Retries, 'Healthcheck.Retries') || undefined,
  };
  if (test?.length) flags.cmd = test[0] === 'CMD-SHELL' ? test.slice(1).join(' ') : JSON.stringify(test);
  return flags;
}

/** Resource limits of a HostConfig or an update body; 0 means "not set", as in Docker. */
export function resources(hc: Json, prefix: string): Resources {
  const n = (k: string) => integer(hc[k], `${prefix}.${k}`);
  const a: ResourceArgs = {};
  const memory = n('Memory'), swap = n('MemorySwap'), reservation = n('MemoryReservation'), nano = n('NanoCpus');
  if (memory) a.memory = String(memory);
  if (swap) a.memorySwap = String(swap);
  if (reservation) a.memoryReservation = String(reservation);
  if (nano) a.cpus = String(nano / 1e9);
  for (const [k, f] of [['CpuShares', 'cpuShares'], ['CpuQuota', 'cpuQuota'], ['CpuPeriod', 'cpuPeriod'], ['BlkioWeight', 'blkioWeight']] as const) {
    const v = n(k);
    if (v) a[f] = v;
  }
  const pids = n('PidsLimit');
  if (pids) a.pidsLimit = pids;
  const cpus = string(hc.CpusetCpus, `${prefix}.CpusetCpus`), mems = string(hc.CpusetMems, `${prefix}.CpusetMems`);
  if (cpus) a.cpusetCpus = cpus;
  if (mems) a.cpusetMems = mems;
  return parseResources(a);
}

/** PortBindings, ExposedPorts, DNS, extra hosts and endpoint aliases as the Engine's network options. */
function networking(body: Json, hc: Json, o: CreateOptions): void {
  const publish: string[] = [];
  for (const [key, list] of Object.entries(object(hc.PortBindings, 'HostConfig.PortBindings') ?? {})) {
    const [portNum, proto = 'tcp'] = key.split('/');
    const bindings = list === null ? [] : Array.isArray(list) ? list : [list];
    bindings.forEach((b, i) => {
      const f = `HostConfig.PortBindings["${key}"][${i}]`;
      const bo = object(b, f) ?? {};
      const ip = string(bo.HostIp, `${f}.HostIp`) ?? '';
      // "" and "0" both ask for a free host port, chosen at start.
      const hostPort = string(bo.HostPort, `${f}.HostPort`) ?? '';
      const hp = hostPort === '0' ? '' : hostPort;
      publish.push(ip ? `${ip}:${hp}:${portNum}/${proto}` : hp ? `${hp}:${portNum}/${proto}` : `${portNum}/${proto}`);
    });
  }
  if (publish.length) o.publish = publish;
  if (boolean(hc.PublishAllPorts, 'HostConfig.PublishAllPorts')) o.publishAll = true;
  const exposed = Object.keys(object(body.ExposedPorts, 'ExposedPorts') ?? {});
  if (exposed.length) o.expose = exposed;
  const dns = strings(hc.Dns, 'HostConfig.Dns');
  if (dns?.length) o.dns = dns;
  const search = strings(hc.DnsSearch, 'HostConfig.DnsSearch');
  if (search?.length) o.dnsSearch = search;
  const dnsOpts = strings(hc.DnsOptions, 'HostConfig.DnsOptions');
  if (dnsOpts?.length) o.dnsOptions = dnsOpts;
  const hosts = strings(hc.ExtraHosts, 'HostConfig.ExtraHosts');
  if (hosts?.length) o.addHosts = hosts;
  // NetworkingConfig: the endpoint of the container's network (aliases, a fixed address).
  const endpoints = object(object(body.NetworkingConfig, 'NetworkingConfig')?.EndpointsConfig, 'NetworkingConfig.EndpointsConfig') ?? {};
  const aliases: string[] = [];
  for (const [net, ep] of Object.entries(endpoints)) {
    const e = object(ep, `NetworkingConfig.EndpointsConfig.${net}`) ?? {};
    aliases.push(...(strings(e.Aliases, `NetworkingConfig.EndpointsConfig.${net}.Aliases`) ?? []));
    const ipam = object(e.IPAMConfig, `NetworkingConfig.EndpointsConfig.${net}.IPAMConfig`);
    const ip = string(ipam?.IPv4Address, `NetworkingConfig.EndpointsConfig.${net}.IPAMConfig.IPv4Address`);
    if (ip) o.ip = ip;
    // Endpoints besides NetworkMode's are more networks to join.
    const same = net === 'default' || net === o.network || (net === 'bridge' && !o.network);
    if (!same) {
      if (!o.network) o.network = net;
      else if (!['host', 'none'].includes(o.network)) (o.networks ??= []).push(net);
    }
  }
  const mac = string(body.MacAddress, 'MacAddress');
  if (mac) o.mac = mac;
  const short = aliases.filter((a, i) => aliases.indexOf(a) === i);
  if (short.length) o.aliases = short;
}

/** Fields that ask for something Berth does not do yet: a warning each, instead of silently dropping them. */
function unsupported(body: Json, hc: Json, warnings: string[]): void {
  const set = (v: unknown) => v !== undefined && v !== null && v !== '' && v !== false && v !== 0 &&
    !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);
  const checks: [unknown, string][] = [
    [hc.Links, 'HostConfig.Links (--link)'], [hc.OomKillDisable, 'HostConfig.OomKillDisable'],
    [hc.OomScoreAdj, 'HostConfig.OomScoreAdj'], [hc.IpcMode !== 'private' && hc.IpcMode !== 'shareable' ? hc.IpcMode : undefined, 'HostConfig.IpcMode'],
    [hc.PidMode, 'HostConfig.PidMode'], [hc.UTSMode, 'HostConfig.UTSMode'], [hc.UsernsMode, 'HostConfig.UsernsMode'],
  ];
  for (const [v, what] of checks) if (set(v)) warnings.push(`${what} is not supported by Berth yet and was ignored`);
}
