// Turns what the user asked for (CreateOptions, from the CLI or the API) plus
// the image's config into a ContainerConfig, the way Docker applies defaults.
import fs from 'node:fs';
import type { EngineContext } from './context.js';
import type { ContainerConfig, ContainerRecord, MountSpec, Resources, RestartPolicy } from './container-types.js';
import { emptyStatus } from './container-types.js';
import type { ImageConfig } from '../image/types.js';
import { invalidArgument } from './errors.js';
import { newId, randomName, NAME_RE } from './names.js';
import { mergeEnv, parseSecurityOpts, parseSignal, signalName } from './parse.js';
import { validateLogConfig } from './logs.js';
import { resolveMounts, insertWithVolumes } from './volume-mounts.js';
import { containerCapabilities } from '../runtime/capabilities.js';
import { parseUlimit } from '../runtime/ulimits.js';
import { prepareOverlay } from '../snapshot/overlay.js';
import { crashPoint } from '../sys/faults.js';
import { writeIntent, clearIntent } from './intents.js';
import { healthConfig, type HealthFlags } from './health.js';
import { resolveNetworking, type NetworkOptions } from './network-config.js';
import { checkResources, checkDevices } from './resources.js';
import { containerCgroupParent } from './config.js';

export interface CreateOptions extends NetworkOptions {
  image: string;
  name?: string;
  cmd?: string[];
  /** undefined = from the image; [] = cleared (`--entrypoint ""`). */
  entrypoint?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  groupAdd?: string[];
  hostname?: string;
  tty?: boolean;
  openStdin?: boolean;
  volumes?: string[];          // -v specs
  tmpfs?: string[];            // --tmpfs specs
  mounts?: MountSpec[];        // already parsed (--mount, API Mounts)
  volumesFrom?: string[];      // --volumes-from CTR[:ro|rw]
  readOnly?: boolean;
  readOnlyTmpfs?: boolean;
  network?: string;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  init?: boolean;
  autoRemove?: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  stopSignal?: string;
  stopTimeout?: number;
  restartPolicy?: RestartPolicy;
  resources?: Resources;
  ulimits?: string[];
  sysctls?: Record<string, string>;
  devices?: string[];
  shmSize?: number;
  logDriver?: string;
  logOpts?: Record<string, string>;
  cgroupParent?: string;
  health?: HealthFlags;
  /** When to pull the image (feature: registry): missing (default), always, never, newer. */
  pull?: 'always' | 'missing' | 'never' | 'newer';
  /** os/arch[/variant] of the image to pull. */
  platform?: string;
}


export function buildContainerConfig(ctx: EngineContext, o: CreateOptions): ContainerConfig {
  const image = ctx.images.resolve(o.image);
  const imgConfig = ctx.content.readJson<ImageConfig>(image.record.configDigest).config ?? {};
  const id = newId();
  let name = o.name;
  if (name !== undefined) {
    if (!NAME_RE.test(name)) throw invalidArgument(`invalid container name "${name}": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
  } else {
    name = randomName();
    for (let i = 0; ctx.containers.nameTaken(name); i++) name = i < 5 ? randomName() : `${randomName()}_${id.slice(0, 4)}`;
  }
  const entrypoint = o.entrypoint ?? imgConfig.Entrypoint ?? [];
  const cmd = o.cmd?.length ? o.cmd : o.entrypoint !== undefined ? [] : imgConfig.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw invalidArgument('no command or entrypoint provided, and no CMD or ENTRYPOINT from image');
  const workingDir = o.workingDir || imgConfig.WorkingDir || '/';
  if (!workingDir.startsWith('/')) throw invalidArgument(`the working directory "${workingDir}" is invalid: it must be an absolute path`);
  const net = resolveNetworking(ctx, o, imgConfig);
  const network = net.networkMode;
  const sec = parseSecurityOpts(o.securityOpt ?? []);
  validateLogConfig(o.logDriver ?? 'k8s-file', o.logOpts ?? {});
  containerCapabilities({ add: o.capAdd, drop: o.capDrop, privileged: o.privileged }); // validates names now, not at start
  for (const u of o.ulimits ?? []) parseUlimit(u);
  const resources = checkResources(o.resources ?? {});
  checkDevices(o.devices ?? []);
  if (sec.seccompProfile && sec.seccompProfile !== 'unconfined' && !fs.existsSync(sec.seccompProfile)) {
    throw invalidArgument(`seccomp profile ${sec.seccompProfile} does not exist`);
  }
  if (o.autoRemove && o.restartPolicy && o.restartPolicy.name !== 'no') {
    throw invalidArgument('conflicting options: --restart and --rm (a container removed on exit cannot be restarted)');
  }
  const mounts = resolveMounts(ctx, o, Object.keys(imgConfig.Volumes ?? {}));
  const stopSignal = signalName(parseSignal(o.stopSignal ?? imgConfig.StopSignal ?? 'SIGTERM'));
  const hostname = o.hostname || (network === 'host' ? readHostname() : id.slice(0, 12));
  return {
    id, name, image: o.image, imageId: image.record.id, imageName: image.names[0] ?? image.record.id,
    created: new Date().toISOString(),
    cmd: o.cmd?.length ? o.cmd : null,
    entrypoint: o.entrypoint ?? null,
    args,
    env: mergeEnv(imgConfig.Env ?? [], o.env ?? []),
    workingDir,
    user: o.user ?? imgConfig.User ?? '',
    groupAdd: o.groupAdd ?? [],
    hostname,
    tty: !!o.tty,
    openStdin: !!o.openStdin,
    mounts,
    readOnly: !!o.readOnly,
    readOnlyTmpfs: o.readOnlyTmpfs ?? true,
    ...net,
    privileged: !!o.privileged,
    capAdd: o.capAdd ?? [],
    capDrop: o.capDrop ?? [],
    noNewPrivileges: sec.noNewPrivileges,
    seccompProfile: sec.seccompProfile,
    init: !!o.init,
    autoRemove: !!o.autoRemove,
    labels: { ...(imgConfig.Labels ?? {}), ...(o.labels ?? {}) },
    annotations: o.annotations ?? {},
    stopSignal,
    stopTimeout: o.stopTimeout ?? 10,
    restartPolicy: o.restartPolicy ?? { name: 'no', maximumRetryCount: 0 },
    resources,
    ulimits: o.ulimits ?? [],
    sysctls: o.sysctls ?? {},
    devices: o.devices ?? [],
    shmSize: o.shmSize ?? ctx.cfg.shmSize,
    logDriver: o.logDriver ?? 'k8s-file',
    logOpts: o.logOpts ?? {},
    cgroupParent: containerCgroupParent(o.cgroupParent, ctx.cfg.cgroupParent),
    healthcheck: healthConfig(o.health ?? {}, imgConfig.Healthcheck),
    rootfsUpper: true,
  };
}

function readHostname(): string {
  try { return fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(); } catch { return 'localhost'; }
}

/** Records the container and prepares its writable layer. */
export function createContainer(ctx: EngineContext, o: CreateOptions): ContainerRecord {
  const config = buildContainerConfig(ctx, o);
  const rec: ContainerRecord = { config, state: 'created', status: emptyStatus() };
  // The intent lets the next command remove the directories if we die before the record exists.
  writeIntent(ctx, config.id, 'create');
  prepareOverlay(ctx.paths.container(config.id));
  crashPoint('create:prepared');
  try {
    insertWithVolumes(ctx, rec, () => ctx.containers.insert(rec));
  } catch (e) {
    fs.rmSync(ctx.paths.container(config.id), { recursive: true, force: true });
    throw e;
  } finally {
    clearIntent(ctx, config.id);
  }
  ctx.events.record('container', 'create', config.id, config.name, { image: config.imageName });
  return rec;
}
