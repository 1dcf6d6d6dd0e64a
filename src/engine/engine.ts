// The Engine: one method per user-visible action. The CLI, the Docker API and
// (later) the CRI call only this, so behaviour cannot drift between them.
import type { EngineConfig } from './config.js';
import { EngineContext } from './context.js';
import type { ContainerRecord } from './container-types.js';
import { createContainer, type CreateOptions } from './container-create.js';
import * as life from './lifecycle.js';
import { containerInspect, containerSummary, imageInspect, imageSummaries } from './views.js';
import { recoverInterrupted } from './recovery.js';
import * as imageOps from './image-ops.js';
import { trace } from '../sys/log.js';

export type { CreateOptions } from './container-create.js';
export type { AttachStreams, AttachSession } from './lifecycle.js';

export class Engine {
  readonly ctx: EngineContext;
  private recovered = false;

  constructor(cfg: EngineConfig) {
    this.ctx = new EngineContext(cfg);
  }

  get config(): EngineConfig { return this.ctx.cfg; }

  close(): void { this.ctx.close(); }

  /** Repairs whatever an interrupted berth process left half-done (cheap when there is nothing). */
  private async recover(): Promise<void> {
    if (this.recovered) return;
    this.recovered = true;
    await recoverInterrupted(this.ctx);
  }

  // ----- containers -----

  async createContainer(opts: CreateOptions): Promise<ContainerRecord> {
    trace('create');
    await this.recover();
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
  waitContainer(ref: string): Promise<number> {
    const rec = this.ctx.containers.resolve(ref);
    return life.waitForExit(this.ctx, rec.config.id);
  }

  async stopContainer(ref: string, timeoutSec?: number): Promise<boolean> {
    await this.recover();
    const rec = this.ctx.containers.resolve(ref);
    return life.stopContainer(this.ctx, rec.config.id, timeoutSec);
  }

  async killContainer(ref: string, signal = 'KILL'): Promise<void> {
    const rec = this.ctx.containers.resolve(ref);
    await life.killContainer(this.ctx, rec.config.id, signal);
  }

  async removeContainer(ref: string, opts: { force?: boolean } = {}): Promise<string> {
    await this.recover();
    const rec = this.ctx.containers.resolve(ref);
    await life.removeContainer(this.ctx, rec.config.id, !!opts.force);
    return rec.config.id;
  }

  /** Run by conmon when the container exits (and by `run` in the foreground). */
  async cleanupContainer(ref: string): Promise<void> {
    const rec = this.ctx.containers.lookup(ref);
    if (rec) await life.cleanupContainer(this.ctx, rec.config.id);
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
}
