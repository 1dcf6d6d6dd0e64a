// Docker/Podman-shaped views of containers and images, for inspect, ps and images.
// Field names follow Podman's inspect (and Docker's), so templates written for
// them ({{.State.ExitCode}}, {{.Config.Env}}, {{.Id}}) work unchanged.
import type { EngineContext } from './context.js';
import type { ContainerRecord, ContainerConfig, ContainerStatus } from './container-types.js';
import { netnsPath } from '../network/links.js';
import type { ImageConfig, ImageRecord } from '../image/types.js';
import { overlayDirs } from '../snapshot/overlay.js';
import { containerCapabilities } from '../runtime/capabilities.js';
import { parseDevice } from '../runtime/spec.js';
import { ago, humanDuration, humanSize } from '../format/human.js';
import { splitName } from '../image/reference.js';
import { displayLogPath } from './logs.js';
import { volumeSource } from './volume-mounts.js';

export function displayState(rec: ContainerRecord): string {
  switch (rec.state) {
    case 'stopped': return 'exited';
    case 'removing': return 'removing';
    default: return rec.state;
  }
}

export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const s = rec.status;
  switch (rec.state) {
    case 'running': return `Up ${humanDuration(now - Date.parse(s.startedAt))}${s.health ? ` (${s.health.status})` : ''}`;
    case 'paused': return `Up ${humanDuration(now - Date.parse(s.startedAt))} (Paused)`;
    case 'created': return s.error ? `Created (error)` : 'Created';
    case 'removing': return 'Removing';
    default: return `Exited (${s.exitCode}) ${s.finishedAt ? ago(s.finishedAt, now) : ''}`.trim();
  }
}

export function containerInspect(ctx: EngineContext, rec: ContainerRecord): Record<string, unknown> {
  const c = rec.config, s = rec.status;
  const state = displayState(rec);
  const dirs = overlayDirs(ctx.paths.container(c.id));
  const bundle = ctx.paths.bundle(c.id);
  const image = ctx.images.get(c.imageId);
  const caps = containerCapabilities({ add: c.capAdd, drop: c.capDrop, privileged: c.privileged });
  const [path0, ...args] = c.args;
  return {
    Id: c.id,
    Created: c.created,
    Path: path0,
    Args: args,
    State: {
      OciVersion: '1.0.2',
      Status: state,
      Running: state === 'running' || state === 'paused',
      Paused: state === 'paused',
      Restarting: false,
      OOMKilled: s.oomKilled,
      Dead: false,
      Pid: s.pid,
      ConmonPid: s.conmonPid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt || '0001-01-01T00:00:00Z',
      FinishedAt: s.finishedAt || '0001-01-01T00:00:00Z',
      StoppedByUser: s.stoppedByUser,
      ...(c.healthcheck ? { Health: { Status: s.health?.status ?? 'starting', FailingStreak: s.health?.failingStreak ?? 0, Log: s.health?.log ?? [] } } : {}),
    },
    Image: c.imageId,
    ImageDigest: image?.record.manifestDigest ?? '',
    ImageName: c.imageName,
    Rootfs: '',
    ResolvConfPath: `${bundle}/resolv.conf`,
    HostnamePath: `${bundle}/hostname`,
    HostsPath: `${bundle}/hosts`,
    LogPath: displayLogPath(ctx, c),
    Name: c.name,
    RestartCount: s.restartCount,
    Driver: 'overlay',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    EffectiveCaps: caps,
    BoundingCaps: caps,
    ExecIDs: [],
    GraphDriver: {
      Name: 'overlay',
      Data: {
        LowerDir: (image?.record.layers ?? []).map((l) => ctx.layers.dir(l.chainId)).reverse().join(':'),
        UpperDir: dirs.upper, WorkDir: dirs.work, MergedDir: s.mounted ? dirs.merged : '',
      },
    },
    Mounts: c.mounts.map((m) => m.type === 'volume' ? {
      // Docker's shape for volumes: the name, and the host directory as Source.
      Type: 'volume', Name: m.source, Source: volumeSource(ctx, m.source), Destination: m.destination, Driver: 'local', Mode: '',
      Options: m.options, RW: !m.options.includes('ro'), Propagation: '',
    } : {
      Type: m.type, Source: m.source, Destination: m.destination, Driver: '', Mode: '',
      Options: m.options, RW: !m.options.includes('ro'), Propagation: m.type === 'bind' ? 'rprivate' : '',
    }),
    Dependencies: [],
    NetworkSettings: networkSettings(c, s),
    Namespace: '',
    IsInfra: false,
    Config: {
      Hostname: c.hostname,
      Domainname: '',
      User: c.user,
      AttachStdin: c.openStdin,
      AttachStdout: false,
      AttachStderr: false,
      ...(c.exposed?.length ? { ExposedPorts: Object.fromEntries(c.exposed.map((k) => [k, {}])) } : {}),
      Tty: c.tty,
      OpenStdin: c.openStdin,
      StdinOnce: false,
      Env: c.env,
      Cmd: c.cmd ?? (c.entrypoint === null ? c.args.slice(0) : null),
      Image: c.imageName,
      Volumes: null,
      WorkingDir: c.workingDir,
      Entrypoint: c.entrypoint,
      OnBuild: null,
      Labels: c.labels,
      Annotations: c.annotations,
      StopSignal: c.stopSignal,
      StopTimeout: c.stopTimeout,
      ...(c.healthcheck ? { Healthcheck: {
        Test: c.healthcheck.test, Interval: c.healthcheck.intervalMs * 1e6, Timeout: c.healthcheck.timeoutMs * 1e6,
        StartPeriod: c.healthcheck.startPeriodMs * 1e6, Retries: c.healthcheck.retries,
      }, HealthcheckOnFailureAction: c.healthcheck.onFailure } : {}),
    },
    HostConfig: {
      Binds: c.mounts.filter((m) => m.type === 'bind').map((m) => `${m.source}:${m.destination}${m.options.length ? ':' + m.options.join(',') : ''}`),
      // Like Docker: "bridge" for the default network, the name for user networks.
      NetworkMode: c.networkMode === 'bridge' ? (c.networks[0] && c.networks[0].network !== 'berth' ? c.networks[0].network : 'bridge') : c.networkMode,
      PortBindings: Object.fromEntries(c.ports.map((p) => [`${p.containerPort}/${p.proto}`, [{ HostIp: p.hostIp, HostPort: p.hostPort ? String(p.hostPort) : '' }]])),
      Dns: c.dns, DnsSearch: c.dnsSearch, DnsOptions: c.dnsOptions, ExtraHosts: c.addHosts,
      RestartPolicy: { Name: c.restartPolicy.name, MaximumRetryCount: c.restartPolicy.maximumRetryCount },
      AutoRemove: c.autoRemove,
      CapAdd: c.capAdd,
      CapDrop: c.capDrop,
      Privileged: c.privileged,
      ReadonlyRootfs: c.readOnly,
      SecurityOpt: [...(c.noNewPrivileges ? ['no-new-privileges'] : []), ...(c.seccompProfile ? [`seccomp=${c.seccompProfile}`] : [])],
      Tmpfs: Object.fromEntries(c.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.destination, m.options.join(',')])),
      Init: c.init,
      LogConfig: { Type: c.logDriver, Config: c.logOpts },
      CgroupParent: c.cgroupParent,
      Memory: c.resources.memory ?? 0,
      MemoryReservation: c.resources.memoryReservation ?? 0,
      MemorySwap: c.resources.memorySwap ?? 0,
      CpuShares: c.resources.cpuShares ?? 0,
      // As Podman: --cpus shows as the CFS quota over a 100ms period too.
      CpuQuota: c.resources.nanoCpus ? Math.round(c.resources.nanoCpus / 1e4) : c.resources.cpuQuota ?? 0,
      CpuPeriod: c.resources.nanoCpus ? 100000 : c.resources.cpuPeriod ?? 0,
      NanoCpus: c.resources.nanoCpus ?? 0,
      CpusetCpus: c.resources.cpusetCpus ?? '',
      CpusetMems: c.resources.cpusetMems ?? '',
      PidsLimit: c.resources.pidsLimit ?? 0,
      BlkioWeight: c.resources.blkioWeight ?? 0,
      OomKillDisable: false,
      Devices: c.devices.map(parseDevice).map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer, CgroupPermissions: d.permissions })),
      Ulimits: c.ulimits,
      Sysctls: c.sysctls,
      ShmSize: c.shmSize,
    },
  };
}

/** A row of `ps`: field names as in Podman's ps templates. */
export function containerSummary(rec: ContainerRecord, now = Date.now()): Record<string, unknown> {
  const c = rec.config, s = rec.status;
  return {
    ID: c.id.slice(0, 12),
    Id: c.id,
    Image: c.imageName,
    ImageID: c.imageId,
    Command: c.args.join(' '),
    Created: Math.floor(Date.parse(c.created) / 1000),
    CreatedAt: c.created,
    CreatedHuman: ago(c.created, now),
    RunningFor: ago(c.created, now),
    Status: statusText(rec, now),
    State: displayState(rec),
    ExitCode: s.exitCode,
    Exited: rec.state === 'exited' || rec.state === 'stopped',
    ExitedAt: s.finishedAt ? Math.floor(Date.parse(s.finishedAt) / 1000) : 0,
    StartedAt: s.startedAt ? Math.floor(Date.parse(s.startedAt) / 1000) : 0,
    Names: c.name,
    Pid: s.pid,
    Ports: portsText(rec),
    Labels: c.labels,
    Label: (key: string) => c.labels[key] ?? '',
    Mounts: c.mounts.map((m) => m.destination),
    Networks: c.networkMode === 'bridge' ? c.networks.map((a) => a.network) : [],
    AutoRemove: c.autoRemove,
    Size: '',
  };
}

export function imageSummaries(ctx: EngineContext, now = Date.now()): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const { record, names } of ctx.images.list()) {
    const rows = names.length ? names : ['<none>:<none>'];
    for (const n of rows) {
      const { repository, tag } = n === '<none>:<none>' ? { repository: '<none>', tag: '<none>' } : splitName(n);
      out.push(imageRow(record, names, repository, tag, now));
    }
  }
  return out;
}

function imageRow(r: ImageRecord, names: string[], repository: string, tag: string, now: number): Record<string, unknown> {
  return {
    ID: r.id.slice(0, 12),
    Id: r.id,
    Repository: repository,
    Tag: tag,
    Digest: r.manifestDigest,
    Created: Math.floor(r.created / 1000),
    CreatedAt: new Date(r.created).toISOString(),
    CreatedSince: ago(r.created, now),
    CreatedTime: new Date(r.created).toISOString(),
    Size: humanSize(r.size),
    VirtualSize: r.size,
    Names: names,
    RepoTags: names,
    Dangling: names.length === 0,
    Containers: 0,
  };
}

export function imageInspect(ctx: EngineContext, r: ImageRecord, names: string[]): Record<string, unknown> {
  const cfg = ctx.content.readJson<ImageConfig>(r.configDigest);
  return {
    Id: r.id,
    Digest: r.manifestDigest,
    RepoTags: names,
    RepoDigests: r.repoDigests ?? names.map((n) => `${splitName(n).repository}@${r.manifestDigest}`),
    Parent: '',
    Comment: cfg.history?.at(-1)?.comment ?? '',
    Created: cfg.created ?? new Date(r.created).toISOString(),
    Config: cfg.config ?? {},
    Version: '',
    Author: cfg.author ?? '',
    Architecture: cfg.architecture,
    Os: cfg.os,
    Size: r.size,
    VirtualSize: r.size,
    GraphDriver: {
      Name: 'overlay',
      Data: { LowerDir: r.layers.map((l) => ctx.layers.dir(l.chainId)).reverse().join(':') },
    },
    RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
    Labels: cfg.config?.Labels ?? null,
    Annotations: {},
    ManifestType: r.manifestMediaType,
    User: cfg.config?.User ?? '',
    History: cfg.history ?? [],
    NamesHistory: [],
  };
}

/** Docker's NetworkSettings: addresses on each network and published ports (while running). */
function networkSettings(c: ContainerConfig, s: ContainerStatus): Record<string, unknown> {
  const running = s.pid > 0 || !!s.network;
  const eps = running ? s.network?.endpoints ?? [] : [];
  const networks: Record<string, unknown> = {};
  for (const a of c.networkMode === 'bridge' ? c.networks : []) {
    const e = eps.find((x) => x.network === a.network);
    networks[a.network] = {
      IPAddress: e?.ip ?? '', IPPrefixLen: e?.prefix ?? 0, Gateway: e?.gateway ?? '', MacAddress: e?.mac ?? '',
      NetworkID: e?.networkId ?? '', Aliases: a.aliases, DNSNames: e ? [c.name, c.id.slice(0, 12), ...a.aliases] : null,
    };
  }
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of c.ports) ports[`${p.containerPort}/${p.proto}`] = null;
  for (const p of s.network?.ports ?? []) {
    const key = `${p.containerPort}/${p.proto}`;
    (ports[key] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
  }
  const first = eps[0];
  return {
    Networks: networks, Ports: ports, SandboxKey: first ? netnsPath(c.id) : '',
    IPAddress: first?.ip ?? '', IPPrefixLen: first?.prefix ?? 0, Gateway: first?.gateway ?? '', MacAddress: first?.mac ?? '',
  };
}

/** `0.0.0.0:8080->80/tcp, 127.0.0.1:9000->90/udp` for ps. */
function portsText(rec: ContainerRecord): string {
  const live = rec.state === 'running' || rec.state === 'paused';
  return (live ? rec.status.network?.ports ?? [] : []).map((p) => `${p.hostIp || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.proto}`).join(', ');
}
