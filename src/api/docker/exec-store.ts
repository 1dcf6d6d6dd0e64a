// Exec instances: Docker creates an exec (POST /containers/{id}/exec), then
// starts it (POST /exec/{id}/start) and reads its exit code afterwards
// (GET /exec/{id}/json). The server keeps each instance until a while after it
// ends (or, never started, after it was created), so nothing piles up.
import { randomBytes } from 'node:crypto';
import type { AttachSession } from '../../engine/engine.js';

export interface ExecConfig {
  cmd: string[];
  tty: boolean;
  env: string[];
  user?: string;
  workingDir?: string;
  privileged: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys?: string;
  consoleSize?: { rows: number; cols: number };
}

export interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecConfig;
  state: 'created' | 'running' | 'exited';
  exitCode: number | null;
  session?: AttachSession;
  created: number;
  finished?: number;
}

/** How long an ended (or never started) exec stays inspectable. */
const KEEP_MS = 5 * 60_000;
const MAX_INSTANCES = 2000;
const SWEEP_MS = 30_000;

export class ExecStore {
  private map = new Map<string, ExecInstance>();
  private timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  create(containerId: string, config: ExecConfig): ExecInstance {
    if (this.map.size >= MAX_INSTANCES) this.sweep(true);
    const inst: ExecInstance = { id: randomBytes(32).toString('hex'), containerId, config, state: 'created', exitCode: null, created: Date.now() };
    this.map.set(inst.id, inst);
    return inst;
  }

  /** By full ID or unique prefix. */
  get(ref: string): ExecInstance | undefined {
    const hit = this.map.get(ref);
    if (hit || ref.length < 4) return hit;
    const found = [...this.map.values()].filter((e) => e.id.startsWith(ref));
    return found.length === 1 ? found[0] : undefined;
  }

  finish(inst: ExecInstance, exitCode: number): void {
    inst.exitCode = exitCode;
    inst.state = 'exited';
    inst.finished = Date.now();
    inst.session = undefined;
  }

  /** Exec IDs of a container (its inspect's ExecIDs). */
  ofContainer(containerId: string): string[] {
    return [...this.map.values()].filter((e) => e.containerId === containerId && e.state !== 'exited').map((e) => e.id);
  }

  /**
   * Drops instances that ended (or were never started) long enough ago. `pressed`
   * (the table is full): then also the oldest ended ones, and only if that is not
   * enough the oldest never started, down to 90% of the limit. Running ones stay.
   */
  sweep(pressed = false): void {
    const now = Date.now();
    for (const [id, e] of this.map) {
      const since = e.state === 'exited' ? e.finished! : e.state === 'created' ? e.created : undefined;
      if (since !== undefined && now - since > KEEP_MS) this.map.delete(id);
    }
    if (!pressed) return;
    for (const state of ['exited', 'created'] as const) {
      for (const [id, e] of this.map) {
        if (this.map.size < MAX_INSTANCES * 0.9) return;
        if (e.state === state) this.map.delete(id);
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const e of this.map.values()) e.session?.detach();
    this.map.clear();
  }
}
