// A private Berth installation for one test file: its own root, run root and
// cgroup parent, driven through the real CLI (dist/berth) against real runc
// and conmon. cleanup() removes every container and checks nothing leaked.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pidAlive } from '../../src/sys/fsutil.js';

export const BERTH = path.resolve('dist/berth');

export interface Result { code: number; stdout: string; stderr: string }

/** A running `berth serve` (see TestEnv.serve). */
export interface ApiServer { socket: string; pid: number; host: string; output(): string; exited: Promise<number>; stop(): Promise<number> }

export class TestEnv {
  readonly root: string;
  readonly runroot: string;
  readonly cgroupParent: string;
  /** Network settings of its own, so test files running at once never share bridges, subnets or nft tables. */
  readonly net: { prefix: string; table: string; octet: number; defaultSubnet: string; pool: string };
  readonly configFile: string;

  private constructor(readonly dir: string) {
    this.root = path.join(dir, 'root');
    this.runroot = path.join(dir, 'run');
    this.cgroupParent = `/berth-test-${path.basename(dir)}`;
    const tag = randomBytes(3).toString('hex');
    const octet = freeOctet();
    this.net = { prefix: `bt${tag}`, table: `bt_${tag}`, octet, defaultSubnet: `10.${octet}.255.0/24`, pool: `10.${octet}.0.0/17` };
    this.configFile = path.join(dir, 'berth.toml');
    fs.writeFileSync(this.configFile, [
      '[network]',
      `default_subnet = "${this.net.defaultSubnet}"`,
      `subnet_pool = "${this.net.pool}"`,
      `bridge_prefix = "${this.net.prefix}"`,
      `nft_table = "${this.net.table}"`,
      '',
    ].join('\n'));
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
    return {
      ...process.env, BERTH_CGROUP_PARENT: this.cgroupParent, BERTH_CONFIG: this.configFile,
      // Registry credentials and CAs stay private to the test (never the real home or /etc).
      BERTH_AUTH_FILE: path.join(this.dir, 'auth.json'), BERTH_CERTS_DIR: path.join(this.dir, 'certs.d'),
    };
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
  async ok(args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
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

  /** This environment's bridges (interfaces named with its prefix). */
  bridges(): string[] {
    return fs.readdirSync('/sys/class/net').filter((n) => n.startsWith(this.net.prefix));
  }

  /**
   * Starts `berth serve` (feature: Docker API) on a private socket in this environment;
   * resolves once it listens. stop() sends SIGTERM and waits for the exit.
   */
  async serve(): Promise<ApiServer> {
    const socket = path.join(this.dir, 'docker.sock');
    const child = spawn(BERTH, this.args(['serve', '--host', `unix://${socket}`]), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`berth serve did not start: ${out}`)); }, 30_000);
      child.stdout.on('data', (b: Buffer) => { out += b.toString(); if (out.includes('listening on')) { clearTimeout(timer); resolve(); } });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`berth serve exited (${code}): ${out}`)); });
    });
    child.removeAllListeners('exit');
    const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
    return {
      socket, pid: child.pid!, host: `unix://${socket}`, output: () => out, exited,
      stop: async () => { if (child.exitCode === null) child.kill('SIGTERM'); return exited; },
    };
  }

  /** Removes all containers, then checks that no mount, cgroup or runc state is left. */
  async cleanup(): Promise<void> {
    await this.berth(['rm', '-af']);
    await this.berth(['network', 'prune', '-f']);
    const mounts = this.mounts();
    const cgroups = this.cgroupLeftovers();
    const runc = fs.existsSync(path.join(this.runroot, 'runc')) ? fs.readdirSync(path.join(this.runroot, 'runc')) : [];
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    for (const ctrl of fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : []) {
      const p = path.join('/sys/fs/cgroup', ctrl, this.cgroupParent);
      if (fs.existsSync(p)) spawnSync('find', [p, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
    }
    for (const br of this.bridges()) spawnSync('ip', ['link', 'del', br]);
    spawnSync('nft', ['delete', 'table', 'ip', this.net.table], { stdio: 'ignore' });
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.rmSync(path.join(OCTET_CLAIMS, String(this.net.octet)), { force: true });
    assert.deepEqual(mounts, [], 'mounts leaked');
    assert.deepEqual(cgroups, [], 'cgroups leaked');
    assert.deepEqual(runc, [], 'runc state leaked');
  }
}

/** Claims on octets, one file each holding the claiming pid: test files run at once must not pick the same one. */
const OCTET_CLAIMS = path.join(os.tmpdir(), 'berth-test-octets');

/**
 * A second octet X such that 10.X.0.0/16 is not routed on this host, nor claimed
 * by another TestEnv that has not made its bridge yet (a claim of a dead process is taken over).
 */
function freeOctet(): number {
  const routes = fs.readFileSync('/proc/net/route', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1]).filter(Boolean)
    .map((hex) => { const n = parseInt(hex!, 16); return [n & 255, (n >>> 8) & 255]; });
  fs.mkdirSync(OCTET_CLAIMS, { recursive: true });
  const start = Math.floor(Math.random() * 100);
  for (let i = 0; i < 100; i++) {
    const o = 100 + ((start + i) % 100);
    if (routes.some(([a, b]) => a === 10 && b === o)) continue;
    const claim = path.join(OCTET_CLAIMS, String(o));
    for (let tries = 0; tries < 2; tries++) {
      try {
        fs.writeFileSync(claim, String(process.pid), { flag: 'wx' });
        return o;
      } catch {
        let owner: number | undefined;
        try { owner = Number(fs.readFileSync(claim, 'utf8')); } catch { continue; /* released meanwhile */ }
        // Empty: being claimed right now.
        if (!owner || owner === process.pid || pidAlive(owner)) break;
        fs.rmSync(claim, { force: true }); // a dead process's: try again, against anyone else doing the same
      }
    }
  }
  throw new Error(`no free 10.X.0.0/16 for a test network: routes or claims in ${OCTET_CLAIMS} hold 10.100-199`);
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
