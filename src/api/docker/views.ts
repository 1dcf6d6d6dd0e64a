// Docker-shaped views of what the Engine returns: container inspect and list
// rows, images, events and stats, with the names and types Docker's clients
// read (IDs as sha256:…, names as /name, Labels always an object, familiar
// image names).
import type { Engine } from '../../engine/engine.js';
import type { ContainerRecord } from '../../engine/container-types.js';
import type { EngineEvent } from '../../engine/events.js';
import type { ContainerStats } from '../../engine/stats.js';
import { familiarName } from '../../image/reference.js';
import os from 'node:os';
import { DEFAULT_NETWORK } from '../../engine/network-config.js';

type Json = Record<string, unknown>;

const sha = (id: string) => (id.startsWith('sha256:') ? id : `sha256:${id}`);
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The Engine's default network is Docker's "bridge". */
const dockerNetName = (n: string) => (n === DEFAULT_NETWORK ? 'bridge' : n);

function renameNetworks(nets: Json | undefined): Json {
  return Object.fromEntries(Object.entries(nets ?? {}).map(([k, v]) => [dockerNetName(k), v]));
}

/** A network entry for the modes without a network record (none, host), as Docker lists them. */
function modeNetworks(c: ContainerRecord['config']): Json {
  if (c.networkMode !== 'none' && c.networkMode !== 'host') return {};
  return { [c.networkMode]: { IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', NetworkID: c.networkMode, EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, DNSNames: null } };
}

export function containerInspect(engine: Engine, rec: ContainerRecord): Json {
  const c = rec.config;
  const base = engine.inspectContainer(c.id);
  const state = base.State as Json;
  const config = base.Config as Json;
  const host = base.HostConfig as Json;
  const ns = (base.NetworkSettings ?? {}) as Json;
  const nets = renameNetworks(ns.Networks as Json);
  return {
    ...base,
    Name: `/${c.name}`,
    Image: sha(c.imageId),
    State: { ...state, StartedAt: state.StartedAt || ZERO_TIME, FinishedAt: state.FinishedAt || ZERO_TIME },
    Config: {
      ...config, Image: c.image, StdinOnce: c.openStdin, Labels: c.labels ?? {},
      ExposedPorts: Object.fromEntries((c.exposed ?? (c.ports ?? []).map((p) => `${p.containerPort}/${p.proto}`)).map((k) => [k, {}])),
    },
    HostConfig: { PortBindings: {}, PublishAllPorts: false, ...host, ConsoleSize: [0, 0] },
    NetworkSettings: {
      Bridge: '', SandboxID: '', HairpinMode: false, Ports: {}, IPAddress: '', IPPrefixLen: 0, Gateway: '', MacAddress: '',
      ...ns, Networks: Object.keys(nets).length ? nets : modeNetworks(c),
    },
    Platform: 'linux',
    Driver: 'overlay2',
    ExecIDs: null,
  };
}

/** A row of GET /containers/json. */
export function containerSummary(engine: Engine, rec: ContainerRecord): Json {
  const c = rec.config;
  const s = engine.containerSummary(rec);
  const live = rec.state === 'running' || rec.state === 'paused';
  const published = live ? rec.status.network?.ports ?? [] : [];
  const ports = [
    ...published.map((p) => ({ IP: p.hostIp || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto })),
    ...(c.ports ?? []).filter((p) => !published.some((q) => q.containerPort === p.containerPort && q.proto === p.proto))
      .map((p) => ({ PrivatePort: p.containerPort, Type: p.proto })),
  ];
  const endpoints = live ? rec.status.network?.endpoints ?? [] : [];
  const networks = c.networkMode === 'bridge'
    ? Object.fromEntries((c.networks ?? []).map((a) => {
      const e = endpoints.find((x) => x.network === a.network);
      return [dockerNetName(a.network), { NetworkID: e?.networkId ?? '', IPAddress: e?.ip ?? '', Gateway: e?.gateway ?? '', IPPrefixLen: e?.prefix ?? 0, MacAddress: e?.mac ?? '', Aliases: a.aliases }];
    }))
    : modeNetworks(c);
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: sha(c.imageId),
    Command: c.args.join(' '),
    Created: s.Created,
    Ports: ports,
    Labels: c.labels ?? {},
    State: s.State,
    Status: s.Status,
    HostConfig: { NetworkMode: c.networkMode === 'bridge' ? dockerNetName(c.networks?.[0]?.network ?? 'bridge') : c.networkMode },
    NetworkSettings: { Networks: networks },
    Mounts: c.mounts.map((m) => ({
      Type: m.type, ...(m.type === 'volume' ? { Name: m.source, Driver: 'local' } : {}), Source: m.source, Destination: m.destination,
      Mode: '', RW: !m.options.includes('ro'), Propagation: '',
    })),
  };
}

/** GET /containers/json filters: id, name, label, status, ancestor, exited, volume, network, health. */
export function containerMatches(engine: Engine, rec: ContainerRecord, filters: Map<string, string[]>): boolean {
  const c = rec.config;
  const state = String(engine.containerSummary(rec).State);
  const test = (key: string, one: (v: string) => boolean) => {
    const vals = filters.get(key);
    return !vals?.length || vals.some(one);
  };
  const label = (v: string) => {
    const i = v.indexOf('=');
    return i < 0 ? v in c.labels : c.labels[v.slice(0, i)] === v.slice(i + 1);
  };
  return test('id', (v) => c.id.startsWith(v))
    && test('name', (v) => c.name.includes(v.replace(/^\//, '')) || safeRegex(v)?.test(c.name) === true)
    && (filters.get('label') ?? []).every(label)
    && test('status', (v) => v === state)
    && test('ancestor', (v) => [c.image, c.imageName, familiarName(c.imageName), c.imageId, sha(c.imageId)].some((x) => x === v || x.startsWith(v + ':') || (v.length >= 12 && sha(c.imageId).startsWith(sha(v)))))
    && test('exited', (v) => state === 'exited' && String(rec.status.exitCode) === v)
    && test('volume', (v) => c.mounts.some((m) => m.source === v || m.destination === v))
    && test('network', (v) => c.networkMode === v || (c.networks ?? []).some((a) => a.network === v || dockerNetName(a.network) === v))
    && test('health', (v) => (rec.status.health?.status ?? 'none') === v);
}

function safeRegex(s: string): RegExp | undefined {
  try { return new RegExp(s); } catch { return undefined; }
}

// ---------- images ----------

export function familiarTags(names: string[]): string[] {
  return names.map(familiarName);
}

export function imageInspect(engine: Engine, ref: string): Json {
  const base = engine.inspectImage(ref);
  const names = (base.RepoTags as string[]) ?? [];
  return {
    ...base,
    Id: sha(String(base.Id)),
    RepoTags: familiarTags(names),
    RepoDigests: ((base.RepoDigests as string[]) ?? []).map(familiarName),
    Parent: '',
    DockerVersion: '',
    GraphDriver: { Name: 'overlay2', Data: (base.GraphDriver as Json)?.Data ?? {} },
    Metadata: { LastTagTime: ZERO_TIME },
  };
}

/** GET /images/json: one row per image (not per tag). */
export function imageSummaries(engine: Engine): Json[] {
  const seen = new Map<string, Json>();
  for (const row of engine.listImages()) {
    const id = String(row.Id);
    if (seen.has(id)) continue;
    const inspect = engine.inspectImage(id);
    const names = (row.Names as string[]) ?? [];
    seen.set(id, {
      Id: sha(id), ParentId: '', RepoTags: familiarTags(names),
      RepoDigests: ((inspect.RepoDigests as string[]) ?? []).map(familiarName),
      Created: row.Created, Size: row.VirtualSize, SharedSize: -1, VirtualSize: row.VirtualSize,
      Labels: (inspect.Labels as Json | null) ?? {}, Containers: -1,
    });
  }
  return [...seen.values()];
}

// ---------- events ----------

/** Engine action names that Docker spells differently. */
const ACTIONS: Record<string, Record<string, string>> = {
  container: { died: 'die', remove: 'destroy', exec: 'exec_start', exec_died: 'exec_die' },
  image: { remove: 'delete' },
  volume: { remove: 'destroy' },
};

export function dockerAction(type: string, action: string): string {
  return ACTIONS[type]?.[action] ?? action;
}

/** Docker's event filter value → the Engine's action name. */
export function engineAction(value: string): string {
  for (const map of Object.values(ACTIONS)) for (const [engine, docker] of Object.entries(map)) if (docker === value) return engine;
  return value;
}

export function eventView(e: EngineEvent): Json {
  const action = dockerAction(e.type, e.action);
  const attributes = { ...e.attributes, ...(e.name ? { name: e.name } : {}) };
  const timeNano = BigInt(e.time) * 1000n;
  return {
    ...(e.type === 'container' ? { status: action, id: e.id, from: e.attributes.image ?? '' } : {}),
    Type: e.type,
    Action: action,
    Actor: { ID: e.id, Attributes: attributes },
    scope: 'local',
    time: Math.floor(e.time / 1e6),
    timeNano: Number(timeNano),
  };
}

// ---------- stats ----------

export function statsView(s: ContainerStats, rec: ContainerRecord, preread: string): Json {
  const cpus = os.availableParallelism?.() ?? os.cpus().length;
  const net = rec.config.networkMode === 'none' || rec.config.networkMode === 'host' ? undefined
    : { eth0: { rx_bytes: s.netInput, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_bytes: s.netOutput, tx_packets: 0, tx_errors: 0, tx_dropped: 0 } };
  return {
    read: new Date().toISOString(),
    preread,
    id: rec.config.id,
    name: `/${rec.config.name}`,
    num_procs: 0,
    pids_stats: { current: s.pids },
    cpu_stats: { cpu_usage: { total_usage: s.cpuNs, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: s.systemNs ?? 0, online_cpus: cpus, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    precpu_stats: { cpu_usage: { total_usage: s.prevCpuNs ?? 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: s.prevSystemNs ?? 0, online_cpus: cpus, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    // The Engine's usage already leaves out the inactive page cache, as Docker's CLI would.
    memory_stats: { usage: s.memUsage, limit: s.memLimit, stats: {} },
    blkio_stats: { io_service_bytes_recursive: [{ major: 0, minor: 0, op: 'read', value: s.blockInput }, { major: 0, minor: 0, op: 'write', value: s.blockOutput }] },
    storage_stats: {},
    ...(net ? { networks: net } : {}),
  };
}

/** Zeros, for a container that is not running (moby answers the same). */
export function idleStats(rec: ContainerRecord): Json {
  return statsView({ id: rec.config.id, name: rec.config.name, cpuPercent: 0, cpuNs: 0, memUsage: 0, memLimit: 0, memPercent: 0, netInput: 0, netOutput: 0, blockInput: 0, blockOutput: 0, pids: 0 }, rec, ZERO_TIME);
}
