// A private Berth installation for one test file: its own root, run root and
// cgroup parent, driven through the real CLI (dist/berth) against real runc
// and conmon. cleanup() removes every container and checks nothing leaked.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

export const BERTH = path.resolve('dist/berth');

export interface Result { code: number; stdout: string; stderr: string }

export class TestEnv {
  readonly root: string;
  readonly runroot: string;
  readonly cgroupParent: string;
  private constructor(readonly dir: string) {
    this.root = path.join(dir, 'root');
    this.runroot = path.join(dir, 'run');
    this.cgroupParent = `/berth-test-${path.basename(dir)}`;
  }

  static async create(opts: { bootstrap?: boolean } = {}): Promise<TestEnv> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-t-'));
    const env = new TestEnv(dir);
    if (opts.bootstrap !== false) {
      const r = await env.berth(['image', 'bootstrap', 'busybox']);
      assert.equal(r.code, 0, r.stderr);
    }
    return env;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, BERTH_CGROUP_PARENT: this.cgroupParent, BERTH_CONFIG: '' };
  }

  /** Arguments for the berth launcher (BERTH) with this environment's roots. */
  args(args: string[]): string[] {
    return ['--root', this.root, '--runroot', this.runroot, ...args];
  }

  /** The whole command line as one shell-safe string (for `script -c`). */
  shellCommand(args: string[]): string {
    return [BERTH, ...this.args(args)].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  }

  /** Runs berth to completion. */
  berth(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Result> {
    return new Promise((resolve, reject) => {
      const child = spawn(BERTH, this.args(args), { env: opts.env ?? this.env, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [], err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`berth ${args.join(' ')} timed out`)); }, opts.timeoutMs ?? 60_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      child.stdin.on('error', () => { /* berth may exit before reading stdin */ });
      if (opts.input !== undefined) child.stdin.end(opts.input);
      else child.stdin.end();
    });
  }

  /** Runs berth and asserts success; returns stdout. */
  async ok(args: string[], opts: { input?: string | Buffer } = {}): Promise<string> {
    const r = await this.berth(args, opts);
    assert.equal(r.code, 0, `berth ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  /** Mount points under this environment's root. */
  mounts(): string[] {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(this.dir));
  }

  cgroupLeftovers(): string[] {
    const out: string[] = [];
    for (const ctrl of fs.readdirSync('/sys/fs/cgroup')) {
      const p = path.join('/sys/fs/cgroup', ctrl, this.cgroupParent);
      if (fs.existsSync(p)) out.push(...fs.readdirSync(p, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${ctrl}/${e.name}`));
    }
    return out;
  }

  /** Removes all containers, then checks that no mount, cgroup or runc state is left. */
  async cleanup(): Promise<void> {
    await this.berth(['rm', '-af']);
    const mounts = this.mounts();
    const cgroups = this.cgroupLeftovers();
    const runc = fs.existsSync(path.join(this.runroot, 'runc')) ? fs.readdirSync(path.join(this.runroot, 'runc')) : [];
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    for (const ctrl of fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : []) {
      const p = path.join('/sys/fs/cgroup', ctrl, this.cgroupParent);
      if (fs.existsSync(p)) spawnSync('find', [p, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    assert.deepEqual(mounts, [], 'mounts leaked');
    assert.deepEqual(cgroups, [], 'cgroups leaked');
    assert.deepEqual(runc, [], 'runc state leaked');
  }
}

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
