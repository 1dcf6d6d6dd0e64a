// runc as the OCI runtime driver, with a private state root.
import type { OciRuntime, RuntimeState } from './runtime.js';
import { run } from '../sys/exec.js';
import { BerthError } from '../engine/errors.js';

export class Runc implements OciRuntime {
  readonly name = 'runc';
  readonly globalArgs: string[];
  constructor(readonly path: string, stateRoot: string) {
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
    const r = await this.runc(['delete', ...(force ? ['--force'] : []), id], true);
    if (r.code !== 0 && !/does not exist|not found/.test(r.stderr)) {
      throw new BerthError('runtime', `runc delete ${id} failed: ${r.stderr.trim().split('\n').pop()}`);
    }
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
