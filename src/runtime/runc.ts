// runc as the OCI runtime driver, with a private state root.
import fs from 'node:fs';
import path from 'node:path';
import type { OciRuntime, RuntimeState } from './runtime.js';
import { run } from '../sys/exec.js';
import { BerthError } from '../engine/errors.js';
import { pidAlive, pidStartTime } from '../sys/fsutil.js';

/** The parts of runc's own state file (<root>/<id>/state.json) that deletion needs. */
interface RuncStateFile {
  init_process_pid: number;
  init_process_start: number;
  cgroup_paths?: Record<string, string>;
  config?: { hooks?: Record<string, unknown[]> };
}

export class Runc implements OciRuntime {
  readonly name = 'runc';
  readonly globalArgs: string[];
  constructor(readonly path: string, private stateRoot: string) {
    this.globalArgs = ['--root', stateRoot];
  }

  private runc(args: string[], allowFailure = false) {
    return run(this.path, [...this.globalArgs, ...args], { allowFailure, hint: undefined });
  }

  async start(id: string): Promise<void> {
    await this.runc(['start', id]);
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    const r = await this.runc(['kill', ...(all ? ['--all'] : []), id, signal], true);
    if (r.code !== 0 && !/not running|container not running|does not exist|process already finished/.test(r.stderr)) {
      throw new BerthError('runtime', `runc kill ${id} ${signal} failed: ${r.stderr.trim().split('\n').pop()}`);
    }
  }

  async delete(id: string, force = false): Promise<void> {
    if (this.deleteStopped(id)) return;
    const r = await this.runc(['delete', ...(force ? ['--force'] : []), id], true);
    if (r.code !== 0 && !/does not exist|not found/.test(r.stderr)) {
      throw new BerthError('runtime', `runc delete ${id} failed: ${r.stderr.trim().split('\n').pop()}`);
    }
  }

  /**
   * Fast path for the common case, a container whose init has exited: do what
   * `runc delete` does then (remove its cgroups and state directory) without
   * spawning runc. Anything unusual (live process, hooks, busy cgroup) returns
   * false and runc does it.
   */
  private deleteStopped(id: string): boolean {
    const dir = path.join(this.stateRoot, id);
    let st: RuncStateFile;
    try {
      st = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as RuncStateFile;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(dir);
    }
    const hooks = st.config?.hooks ?? {};
    if (Object.values(hooks).some((h) => Array.isArray(h) && h.length)) return false;
    if (pidAlive(st.init_process_pid) && pidStartTime(st.init_process_pid) === Number(st.init_process_start)) return false;
    for (const cg of Object.values(st.cgroup_paths ?? {})) {
      try {
        fs.rmdirSync(cg);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') return false;
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    return true;
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    const r = await this.runc(['state', id], true);
    if (r.code !== 0) return undefined;
    return JSON.parse(r.stdout) as RuntimeState;
  }

  async pause(id: string): Promise<void> {
    await this.runc(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.runc(['resume', id]);
  }
}
