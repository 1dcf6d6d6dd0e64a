// The Engine: one method per user-visible action. The CLI, the Docker API and
// (later) the CRI call only this, so behaviour cannot drift between them.
import type { EngineConfig } from './config.js';
import { EngineContext } from './context.js';
import type { ContainerRecord } from './container-types.js';
import { createContainer, type CreateOptions } from './container-create.js';
import * as life from './lifecycle.js';
import { containerInspect, containerSummary, imageInspect, imageSummaries } from './views.js';
import { recoverInterrupted, refreshIfRebooted } from './recovery.js';
import * as imageOps from './image-ops.js';
import * as volumeOps from './volume-ops.js';
import * as ctrFs from './container-fs.js';
import { commitContainer, type CommitOptions, type CommitResult } from './commit.js';
import * as ident from './container-ident.js';
import { execInContainer, type ExecOptions, type ExecResult } from './exec.js';
import { attachToContainer } from './attach.js';
import { waitForCondition } from './wait.js';
import { runHealthcheck } from './health.js';
import { runHostService } from './host-service.js';
import { readEvents, type EventQuery } from './event-stream.js';
import type { EngineEvent } from './events.js';
import * as netOps from './network-ops.js';
import type { NetworkCreateOptions } from './network-ops.js';
import { connectNetwork, disconnectNetwork, type ConnectOptions } from './network-connect.js';
import { DEFAULT_NETWORK } from './network-config.js';
import { diskUsage, pruneContainers, pruneSystem, systemCheck, type DiskUsage, type CheckFinding } from './system.js';
import type { HealthState } from './container-types.js';
import { trace } from '../sys/log.js';
import * as res from './resources.js';
import { streamStats, type ContainerStats } from './stats.js';
import type { Resources } from './container-types.js';
import { BerthError } from './errors.js';
import { readLogs, type LogOptions, type LogSink } from './logs.js';
import { withPins } from '../image/gc.js';
import type { PullOptions, PulledImage } from '../registry/pull.js';
import type { PushOptions, PushResult } from '../registry/push.js';
import type { LoginOptions, LoginResult } from '../registry/login.js';
import type { SearchOptions, SearchResult } from '../registry/search.js';
import type { RegistryOptions } from '../registry/settings.js';
import type { ProgressCallback } from '../registry/progress.js';

export type { CreateOptions } from './container-create.js';
export type { AttachStreams, AttachSession } from './lifecycle.js';
export type { ExecOptions, ExecResult } from './exec.js';
export type { LogOptions, LogSink } from './logs.js';
export type { PullOptions, PulledImage, PushOptions, PushResult, LoginOptions, LoginResult, SearchOptions, SearchResult, RegistryOptions, ProgressCallback };
export type { ProgressMessage } from '../registry/progress.js';

export class Engine {
  readonly ctx: EngineContext;
  private recovered = false;

  constructor(cfg: EngineConfig) {
    this.ctx = new EngineContext(cfg);
  }

  get config(): EngineConfig { return this.ctx.cfg; }

  close(): void { this.ctx.close(); }

  /**
   * Call once before using the engine: after a host reboot (the run directory is
   * new) it marks what ran as exited and releases what is left. A stat otherwise.
   */
  async prepare(): Promise<this> {
    await refreshIfRebooted(this.ctx);
    return this;
  }

  /** Repairs whatever an interrupted berth process left half-done (cheap when there is nothing). */
  private async recover(): Promise<void> {
    if (this.recovered) return;
    this.recovered = true;
    await recoverInterrupted(this.ctx);
  }

  // ----- containers -----

  async createContainer(opts: CreateOptions, hooks: { onPullProgress?: ProgressCallback } = {}): Promise<ContainerRecord> {
    trace('create');
    await this.recover();
    await this.pullForCreate(opts, hooks.onPullProgress);
    const rec = createContainer(this.ctx, opts);
    trace('created');
    return rec;
  }

  async startContainer(ref: string, attach?: life.AttachStreams): Promise<life.AttachSession | undefined> {
    await this.recover();
    const rec = this.ctx.containers.resolve(ref);
    return life.startContainer(this.ctx, rec.config.id, attach);
  }

  /** Waits for the container's process to exit and returns its exit code. */
  waitContainer(ref: string, signal?: AbortSignal): Promise<number> {
    const rec = this.ctx.containers.resolve(ref);
    return life.waitForExit(this.ctx, rec.config.id, signal);
  }

  async stopContainer(ref: string, timeoutSec?: number): Promise<boolean> {
    await this.recover();
    const rec = this.ctx.containers.resolve(ref);
    return life.stopContainer(this.ctx, rec.config.id, timeoutSec);
  }

  async restartContainer(ref: string, timeoutSec?: number): Promise<void> {
    await this.recover();
    const rec = this.ctx.containers.resolve(ref);
    await life.restartContainer(this.ctx, rec.config.id, timeoutSec);
  }

  /** Waits until the container meets `condition` (stopped by default) and returns its exit code. */
  waitContainerCondition(ref: string, condition: string, signal?: AbortSignal): Promise<number> {
    const rec = this.ctx.containers.resolve(ref);
    return waitForCondition(this.ctx, rec.config.id, condition, signal);
  }

  async killContainer(ref: string, signal = 'KILL'): Promise<void> {
    const rec = this.ctx.containers.resolve(ref);
    await life.killContainer(this.ctx, rec.config.id, signal);
  }

  /** `volumes`: also remove its anonymous volumes (rm -v). */
  async removeContainer(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<string> {
    await this.recover();
    const rec = this.ctx.containers.resolve(ref);
    await life.removeContainer(this.ctx, rec.config.id, !!opts.force, !!opts.volumes);
    return rec.config.id;
  }

  /**
   * Run by conmon when the container exits, and by an attached `run`/`start -a`
   * (`attached`), which leaves containers with a restart policy to conmon's exit command.
   */
  async cleanupContainer(ref: string, opts: { attached?: boolean } = {}): Promise<void> {
    const rec = this.ctx.containers.lookup(ref);
    if (!rec || (opts.attached && rec.config.restartPolicy.name !== 'no')) return;
    await life.cleanupContainer(this.ctx, rec.config.id);
  }

  getContainer(ref: string): ContainerRecord {
    return life.observe(this.ctx, this.ctx.containers.resolve(ref));
  }

  containerExists(ref: string): boolean {
    return this.ctx.containers.lookup(ref) !== undefined;
  }

  listContainers(opts: { all?: boolean } = {}): ContainerRecord[] {
    const list = this.ctx.containers.list().map((r) => life.observe(this.ctx, r));
    return opts.all ? list : list.filter((r) => life.isActive(r));
  }

  inspectContainer(ref: string): Record<string, unknown> {
    return containerInspect(this.ctx, this.getContainer(ref));
  }

  containerSummary(rec: ContainerRecord): Record<string, unknown> {
    return containerSummary(rec);
  }

  // ----- container logs -----

  /** Writes a container's logs to `sink`; with `follow`, until the container has stopped. */
  async containerLogs(ref: string, opts: LogOptions, sink: LogSink): Promise<void> {
    await readLogs(this.ctx, this.getContainer(ref), opts, sink);
  }

  // ----- exec and attach -----

  async execContainer(ref: string, opts: ExecOptions, attach?: life.AttachStreams | 'inherit'): Promise<ExecResult> {
    const rec = this.ctx.containers.resolve(ref);
    return execInContainer(this.ctx, rec.config.id, opts, attach);
  }

  async attachContainer(ref: string, streams: life.AttachStreams): Promise<life.AttachSession> {
    const rec = this.getContainer(ref);
    return attachToContainer(this.ctx, rec.config.id, life.isActive(rec), { ...streams, tty: rec.config.tty });
  }

  // ----- resource limits: update, pause/unpause, stats -----

  /** Changes limits; live for a running container, and recorded for later starts. */
  async updateContainer(ref: string, changes: Resources): Promise<void> {
    await this.recover();
    await res.updateContainer(this.ctx, this.ctx.containers.resolve(ref).config.id, changes);
  }

  async pauseContainer(ref: string): Promise<void> {
    await this.recover();
    await res.pauseContainer(this.ctx, this.ctx.containers.resolve(ref).config.id);
  }

  async unpauseContainer(ref: string): Promise<void> {
    await this.recover();
    await res.unpauseContainer(this.ctx, this.ctx.containers.resolve(ref).config.id);
  }

  /**
   * Resource usage, one array per round: the first after `firstMs` (two readings
   * for CPU %), then every `intervalMs`. Named containers must be running; the
   * stream ends when none of them is left.
   */
  containerStats(refs: string[], opts: { all?: boolean; firstMs?: number; intervalMs?: number } = {}): AsyncGenerator<ContainerStats[]> {
    if (refs.length && opts.all) throw new BerthError('invalid-argument', '--all and container names cannot be used together');
    const ids = refs.map((r) => this.ctx.containers.resolve(r).config.id);
    for (const id of ids) {
      const rec = life.observe(this.ctx, this.ctx.containers.get(id)!);
      if (!life.isActive(rec)) throw new BerthError('not-running', `cannot show the stats of container ${rec.config.name}: it is not running`);
    }
    const select = () => ids.length
      ? ids.map((id) => this.ctx.containers.get(id)).filter((r): r is ContainerRecord => !!r).map((r) => life.observe(this.ctx, r)).filter(life.isActive)
      : this.listContainers({ all: opts.all });
    return streamStats({ select, endWhenEmpty: ids.length > 0, isLive: life.isActive, firstMs: opts.firstMs ?? 200, intervalMs: opts.intervalMs ?? 1000 });
  }

  // ----- system -----

  diskUsage(): DiskUsage { return diskUsage(this.ctx); }
  async pruneContainers() { await this.recover(); return pruneContainers(this.ctx); }
  async pruneSystem(o: { all?: boolean; volumes?: boolean }) { await this.recover(); return pruneSystem(this.ctx, o, () => this.pruneNetworks()); }
  /** Reports inconsistencies; with `repair`, fixes them. (Skips the automatic recovery so it can report it.) */
  systemCheck(repair: boolean): Promise<CheckFinding[]> { return systemCheck(this.ctx, repair); }

  // ----- networks -----

  async createNetwork(o: NetworkCreateOptions): Promise<Record<string, unknown>> {
    const n = await netOps.createNetwork(this.ctx, o);
    return netOps.networkInspect(this.ctx, n);
  }
  listNetworks(): Record<string, unknown>[] {
    netOps.defaultNetwork(this.ctx);
    return this.ctx.networks.list().map((n) => netOps.networkInspect(this.ctx, n));
  }
  inspectNetwork(ref: string): Record<string, unknown> {
    return netOps.networkInspect(this.ctx, netOps.networkByName(this.ctx, ref === 'bridge' || ref === 'default' ? DEFAULT_NETWORK : ref));
  }
  networkExists(ref: string): boolean {
    return ref === DEFAULT_NETWORK || ref === 'bridge' || this.ctx.networks.find(ref) !== undefined;
  }
  async removeNetwork(ref: string, opts: { force?: boolean } = {}): Promise<string> {
    await this.recover();
    return netOps.removeNetwork(this.ctx, ref, !!opts.force, (id) => life.removeContainer(this.ctx, id, true));
  }
  /** Removes user networks no container uses. */
  async pruneNetworks(): Promise<string[]> {
    const used = new Set(this.ctx.containers.list().flatMap((c) => c.config.networks?.map((a) => a.network) ?? []));
    const removed: string[] = [];
    for (const n of this.ctx.networks.list()) {
      if (n.name === DEFAULT_NETWORK || used.has(n.name)) continue;
      removed.push(await netOps.removeNetwork(this.ctx, n.id, false, async () => undefined));
    }
    return removed;
  }
  async connectNetwork(network: string, container: string, o: ConnectOptions = {}): Promise<void> {
    await this.recover();
    await connectNetwork(this.ctx, network, container, o);
  }
  async disconnectNetwork(network: string, container: string): Promise<void> {
    await this.recover();
    await disconnectNetwork(this.ctx, network, container);
  }

  // ----- events -----

  events(q: EventQuery, signal?: AbortSignal): AsyncGenerator<EngineEvent> {
    return readEvents(this.ctx, q, signal);
  }

  // ----- health checks and the timer service -----

  /** Runs the health check now; `passed` is this check's own result (the state also counts retries). */
  async healthcheckRun(ref: string): Promise<{ state: HealthState; passed: boolean }> {
    const rec = this.ctx.containers.resolve(ref);
    return runHealthcheck(this.ctx, rec.config.id);
  }

  /** The per-host service loop (`berth system service`, started on demand). */
  runHostService(): Promise<void> {
    return runHostService(this.ctx);
  }

  // ----- images -----

  listImages(): Record<string, unknown>[] { return imageSummaries(this.ctx); }

  inspectImage(ref: string): Record<string, unknown> {
    const row = this.ctx.images.resolve(ref);
    return imageInspect(this.ctx, row.record, row.names);
  }

  imageExists(ref: string): boolean { return this.ctx.images.find(ref) !== undefined; }
  imageHistory(ref: string) { return imageOps.history(this.ctx, ref); }
  tagImage(ref: string, names: string[]) { return imageOps.tag(this.ctx, ref, names); }
  untagImage(ref: string, names: string[]) { return imageOps.untag(this.ctx, ref, names); }
  removeImage(ref: string, opts: { force?: boolean } = {}) { return imageOps.remove(this.ctx, ref, !!opts.force); }
  pruneImages(opts: { all?: boolean } = {}) { return imageOps.prune(this.ctx, !!opts.all); }
  bootstrapImage(what: string) { return imageOps.bootstrap(this.ctx, what); }
  importImage(source: NodeJS.ReadableStream, opts: imageOps.ImportOptions) { return imageOps.importTarball(this.ctx, source, opts); }
  loadImages(source: NodeJS.ReadableStream) { return imageOps.load(this.ctx, source); }
  saveImages(refs: string[], format: imageOps.ArchiveFormat, out: NodeJS.WritableStream) { return imageOps.save(this.ctx, refs, format, out); }

  // ----- registries (feature: pull, push, login, search) -----
  // The registry code is imported on first use, so commands that never reach a registry do not load it.

  /** Pulls an image (every tag with allTags); progress comes as Docker JSON progress messages. */
  async pullImage(ref: string, opts: PullOptions = {}, onProgress?: ProgressCallback): Promise<PulledImage[]> {
    await this.recover();
    const { pullImage } = await import('../registry/pull.js');
    return withPins(this.ctx, () => pullImage(this.ctx, ref, opts, onProgress));
  }

  /** Pushes a local image to `dest` (default: its own name). */
  async pushImage(ref: string, dest: string | undefined, opts: PushOptions = {}, onProgress?: ProgressCallback): Promise<PushResult> {
    await this.recover();
    const { pushImage } = await import('../registry/push.js');
    return withPins(this.ctx, () => pushImage(this.ctx, ref, dest, opts, onProgress));
  }

  /** Checks credentials against the registry, then stores them (without credentials: checks the stored ones). */
  async login(server: string | undefined, opts: LoginOptions = {}): Promise<LoginResult> {
    const { login } = await import('../registry/login.js');
    return login(this.ctx, server, opts);
  }

  /** The user name stored for a registry (login --get-login). */
  async loginUser(server: string | undefined, opts: RegistryOptions = {}): Promise<string> {
    const { storedUser } = await import('../registry/login.js');
    return storedUser(server, opts);
  }

  async logout(server: string | undefined, opts: RegistryOptions & { all?: boolean } = {}): Promise<string> {
    const { logout } = await import('../registry/login.js');
    return logout(server, !!opts.all, opts);
  }

  async searchImages(term: string, opts: SearchOptions = {}): Promise<SearchResult[]> {
    const { searchImages } = await import('../registry/search.js');
    return searchImages(this.ctx, term, opts);
  }

  /** Applies create's --pull policy; a local image with policy "missing" costs one lookup and no import. */
  private async pullForCreate(o: CreateOptions, onProgress?: ProgressCallback): Promise<void> {
    const policy = o.pull ?? 'missing';
    if (policy === 'never') return;
    const local = this.ctx.images.find(o.image);
    if (local && policy === 'missing') return;
    if (!local && /^(sha256:)?[a-f0-9]{64}$/.test(o.image)) return; // an image ID cannot be pulled
    const reg = await import('../registry/pull.js');
    await withPins(this.ctx, async () => {
      try {
        if (local && policy === 'newer') {
          const remote = await reg.remoteDigest(this.ctx, o.image, {});
          if (!remote || local.record.manifestDigest === remote || local.record.repoDigests?.some((d) => d.endsWith('@' + remote))) return;
        }
        await reg.pullImage(this.ctx, o.image, o.platform ? { platform: o.platform } : {}, onProgress);
      } catch (e) {
        if (local || !(e instanceof BerthError)) throw e;
        throw new BerthError('not-found', `${o.image}: image not known, and pulling it failed: ${e.message}`);
      }
    });
  }

  // ----- container filesystem and identity (feature: cp, diff, export, commit, rename, top, port) -----

  /** Copies a host path, or a tar stream's entries, to `path` in the container (Docker's cp rules). */
  async copyToContainer(ref: string, path: string, source: ctrFs.CopySource, opts: ctrFs.CopyOptions = {}): Promise<void> {
    await this.recover();
    await ctrFs.copyToContainer(this.ctx, ref, path, source, opts);
  }

  /** Copies `path` from the container to a host path, or writes it as a tar stream. */
  async copyFromContainer(ref: string, path: string, target: ctrFs.CopyTarget, opts: ctrFs.CopyOptions = {}): Promise<void> {
    await this.recover();
    await ctrFs.copyFromContainer(this.ctx, ref, path, target, opts);
  }

  /** Added (A), changed (C) and deleted (D) paths against the container's image, sorted. */
  containerChanges(ref: string): ctrFs.Change[] { return ctrFs.containerChanges(this.ctx, ref); }

  /** The container's flattened filesystem as a tar stream. */
  async exportContainer(ref: string, out: NodeJS.WritableStream): Promise<void> {
    await this.recover();
    await ctrFs.exportContainer(this.ctx, ref, out);
  }

  async commitContainer(ref: string, opts: CommitOptions = {}): Promise<CommitResult> {
    await this.recover();
    return commitContainer(this.ctx, ref, opts);
  }

  async renameContainer(ref: string, newName: string): Promise<void> {
    await this.recover();
    await ident.renameContainer(this.ctx, ref, newName);
  }

  /** Processes of a running container; `args` are ps descriptors or (starting with "-") ps options. */
  topContainer(ref: string, args: string[] = []): Promise<ident.TopResult> { return ident.topContainer(this.ctx, ref, args); }

  containerPorts(ref: string): ident.PortMapping[] { return ident.containerPorts(this.ctx, ref); }

  // ----- volumes (feature: volumes) -----

  createVolume(opts: volumeOps.VolumeCreateOptions = {}): Record<string, unknown> { return volumeOps.createVolume(this.ctx, opts); }
  /** Filters: name, label, label!, driver, dangling, opt, scope, until, anonymous (KEY=VALUE). */
  listVolumes(filters: string[] = []): Record<string, unknown>[] { return volumeOps.listVolumes(this.ctx, filters); }
  inspectVolume(name: string): Record<string, unknown> { return volumeOps.inspectVolume(this.ctx, name); }
  volumeExists(name: string): boolean { return volumeOps.volumeExists(this.ctx, name); }

  /** With `force`, the containers using the volume are removed first (as Podman). */
  async removeVolume(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.recover();
    await volumeOps.removeVolume(this.ctx, name, !!opts.force);
  }

  /** Removes the volumes no container uses; filters: label, label!, until. Returns their names. */
  async pruneVolumes(filters: string[] = []): Promise<string[]> {
    await this.recover();
    return volumeOps.pruneVolumes(this.ctx, filters);
  }

  // ----- feature: Docker API (berth serve) -----

  /** lstat of a path in the container (Docker's archive stat header). */
  async statContainerPath(ref: string, path: string): Promise<ctrFs.PathStat> {
    await this.recover();
    return ctrFs.statContainerPath(this.ctx, ref, path);
  }

  /** Resizes a running tty container's terminal (a no-op for others). */
  resizeContainer(ref: string, rows: number, cols: number): void {
    const rec = this.getContainer(ref);
    if (rec.config.tty && life.isActive(rec)) this.ctx.monitor.resize(this.ctx.paths.bundle(rec.config.id), rows, cols);
  }
}
