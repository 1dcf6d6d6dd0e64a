// /_ping, /version, /info, /events, /system/df, /auth, and the probes that
// `docker inspect NAME` makes (plugins, distribution) answered with 404s.
import fs from 'node:fs';
import os from 'node:os';
import type { Call, Router } from './router.js';
import { API_VERSION, MIN_API_VERSION, qFilters, qStr } from './router.js';
import { commonHeaders, ok, startJsonStream } from './respond.js';
import { ApiError } from './errors.js';
import { engineAction, eventView, imageSummaries, containerSummary } from './views.js';
import { auth } from './registry.js';
import { VERSION } from '../../cli/version.js';
import { messageOf } from '../../engine/errors.js';
import { log } from '../../sys/log.js';

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

function ping(c: Call): void {
  const res = c.res!;
  res.writeHead(200, {
    ...commonHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Builder-Version': '1', 'Swarm': 'inactive',
    'Cache-Control': 'no-cache, no-store, must-revalidate', 'Pragma': 'no-cache', 'Content-Length': '2',
  });
  res.end(c.method === 'HEAD' ? undefined : 'OK');
}

function version(c: Call): void {
  const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: ARCH[process.arch] ?? process.arch, KernelVersion: os.release(), GitCommit: '', GoVersion: `node ${process.version}`, BuildTime: '', Experimental: 'false' };
  ok(c, {
    Platform: { Name: 'Berth' },
    Components: [{ Name: 'Engine', Version: VERSION, Details: details }],
    Version: VERSION, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: '', GoVersion: `node ${process.version}`,
    Os: 'linux', Arch: details.Arch, KernelVersion: os.release(), BuildTime: '',
  });
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

function info(c: Call): void {
  const all = c.engine.listContainers({ all: true });
  const count = (s: string) => all.filter((r) => r.state === s).length;
  const cfg = c.engine.config;
  const images = new Set(c.engine.listImages().map((r) => r.Id)).size;
  ok(c, {
    ID: '', Containers: all.length, ContainersRunning: count('running'), ContainersPaused: count('paused'),
    ContainersStopped: all.length - count('running') - count('paused'), Images: images,
    Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'overlayfs']], Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['k8s-file', 'json-file', 'none'] },
    MemoryLimit: true, SwapLimit: true, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true,
    IPv4Forwarding: true, BridgeNfIptables: true, BridgeNfIp6tables: true, Debug: false, NFd: 0, OomKillDisable: false, NGoroutines: 0,
    SystemTime: new Date().toISOString(), LoggingDriver: 'k8s-file', CgroupDriver: 'cgroupfs',
    CgroupVersion: fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1', NEventsListener: 0,
    KernelVersion: os.release(), OperatingSystem: osName(), OSVersion: '', OSType: 'linux', Architecture: os.machine?.() ?? process.arch,
    IndexServerAddress: 'https://index.docker.io/v1/', RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
    NCPU: os.availableParallelism?.() ?? os.cpus().length, MemTotal: os.totalmem(), DockerRootDir: cfg.root, Name: os.hostname(),
    Labels: [], ExperimentalBuild: false, ServerVersion: VERSION, Runtimes: { runc: { path: cfg.runtimePath } }, DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: true, Isolation: '', InitBinary: cfg.initPath, ContainerdCommit: { ID: '' }, RuncCommit: { ID: '' }, InitCommit: { ID: '' },
    SecurityOptions: ['name=seccomp,profile=builtin'], Warnings: [],
  });
}

/** Docker's event filters as the Engine's KEY=VALUE list (keys the Engine has no notion of are dropped). */
function eventFilters(f: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [k, values] of f) {
    if (!['type', 'event', 'container', 'image', 'volume', 'label', 'network'].includes(k)) continue;
    for (const v of values) out.push(k === 'event' ? `event=${engineAction(v)}` : k === 'network' ? `name=${v}` : `${k}=${v}`);
  }
  return out;
}

async function events(c: Call): Promise<void> {
  const since = qStr(c, 'since'), until = qStr(c, 'until');
  const gen = c.engine.events({ since, until, filters: eventFilters(qFilters(c)) }, c.signal);
  // A bad since/until fails the first step at once: answer that with a status; otherwise send the headers now.
  const first = gen.next();
  const pending = Symbol('pending');
  const early = await Promise.race([first, new Promise<typeof pending>((r) => setImmediate(() => r(pending)))]);
  const out = startJsonStream(c);
  const stop = () => { void gen.return(undefined); };
  c.signal.addEventListener('abort', stop);
  try {
    const step = early === pending ? await first : early;
    if (!step.done) {
      await out.write(eventView(step.value));
      for await (const e of gen) await out.write(eventView(e));
    }
  } catch (e) {
    if (!out.closed) log.debug(`api: events: ${messageOf(e)}`);
  } finally {
    c.signal.removeEventListener('abort', stop);
  }
  out.end();
}

function df(c: Call): void {
  const du = c.engine.diskUsage();
  const containers = c.engine.listContainers({ all: true });
  const users = new Map<string, number>();
  for (const r of containers) users.set(`sha256:${r.config.imageId}`, (users.get(`sha256:${r.config.imageId}`) ?? 0) + 1);
  const volumes = c.engine.listVolumes();
  ok(c, {
    LayersSize: du.images.size,
    Images: imageSummaries(c.engine).map((i) => ({ ...i, Containers: users.get(String(i.Id)) ?? 0 })),
    // Per-container sizes are not broken down by the Engine: its total goes with the first container.
    Containers: containers.map((r, i) => ({ ...containerSummary(c.engine, r), SizeRw: i === 0 ? du.containers.size : 0, SizeRootFs: 0 })),
    Volumes: volumes.map((v) => ({
      Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, CreatedAt: v.CreatedAt, Labels: v.Labels ?? {}, Scope: 'local', Options: v.Options ?? {},
      UsageData: { Size: -1, RefCount: Number(v.Containers ?? 0) },
    })),
    BuildCache: [],
  });
}

function noPlugin(c: Call): void {
  throw new ApiError(404, `plugin "${c.params.name}" not found`);
}

function distribution(c: Call): void {
  throw new ApiError(404, `distribution information for ${c.params.name} is not available from Berth`);
}

export function systemRoutes(r: Router): void {
  r.add('GET', '/_ping', ping)
    .add('HEAD', '/_ping', ping)
    .add('GET', '/version', version)
    .add('GET', '/info', info)
    .add('GET', '/events', events)
    .add('GET', '/system/df', df)
    .add('POST', '/auth', auth)
    .add('GET', '/plugins', (c) => ok(c, []))
    .add('GET', '/plugins/:name*/json', noPlugin)
    .add('GET', '/distribution/:name*/json', distribution);
}
