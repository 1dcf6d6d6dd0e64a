// Starting programs without fork(). child_process.spawn forks this process,
// which copies the page tables of Node's heap: measured here, each spawn
// blocks the event loop 3-7 ms, and a bridged `run` spawns three programs on
// its critical path. posix_spawn (glibc: clone with CLONE_VM|CLONE_VFORK)
// copies nothing and takes ~0.2 ms. The child starts as libuv would start it:
// every signal at its default action and none blocked, only the file
// descriptors it is given (everything else Node and SQLite open is
// close-on-exec). Exits are seen through SIGCHLD and waitpid on the child's
// own pid, so libuv's children are never reaped here, nor ours there.
// Without the FFI (koffi missing), callers fall back to child_process.
import net from 'node:net';
import { loadKoffi } from './native.js';

/** A child fd: /dev/null, ours (fds 0-2 only), a socket pair whose other end we keep, or one of our fds. */
export type StdioSpec = 'ignore' | 'inherit' | 'pipe' | number;

export interface SpawnedProcess {
  pid: number;
  /** Our ends of the 'pipe' slots, indexed like `stdio`. */
  stdio: (net.Socket | undefined)[];
  /** The exit status: the code, or 128 + the signal's number. */
  exited: Promise<number>;
  kill(signal: NodeJS.Signals | number): void;
  /** This child alone no longer keeps the event loop alive (ChildProcess.unref). */
  unref(): void;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  stdio: StdioSpec[];
  cwd?: string;
  /** setsid() in the child (child_process's `detached`). */
  newSession?: boolean;
}

type Fn = (...args: unknown[]) => number;
interface Api {
  spawnp: Fn; faInit: Fn; faDestroy: Fn; faDup2: Fn; faOpen: Fn; faChdir: Fn;
  attrInit: Fn; attrDestroy: Fn; attrFlags: Fn; attrMask: Fn; attrDefault: Fn;
  sigempty: Fn; socketpair: Fn; close: Fn; waitpid: Fn; errno(): number;
}

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const AF_UNIX = 1;
const SOCK_STREAM_CLOEXEC = 1 | 0x80000;
const O_RDWR = 2;
const WNOHANG = 1;
const ECHILD = 10;
// Larger than glibc's structures (80, 336 and 128 bytes on x86_64 and arm64).
const OPAQUE_BYTES = 512;

let api: Api | null | undefined;

function load(): Api | null {
  if (api !== undefined) return api;
  try {
    const koffi = loadKoffi();
    const lib = koffi.load('libc.so.6');
    const errnoLoc = lib.func('int *__errno_location(void)');
    api = {
      spawnp: lib.func('int posix_spawnp(_Out_ int *pid, const char *file, void *actions, void *attr, const char **argv, const char **envp)'),
      faInit: lib.func('int posix_spawn_file_actions_init(void *)'),
      faDestroy: lib.func('int posix_spawn_file_actions_destroy(void *)'),
      faDup2: lib.func('int posix_spawn_file_actions_adddup2(void *, int, int)'),
      faOpen: lib.func('int posix_spawn_file_actions_addopen(void *, int, const char *, int, uint32_t)'),
      faChdir: lib.func('int posix_spawn_file_actions_addchdir_np(void *, const char *)'),
      attrInit: lib.func('int posix_spawnattr_init(void *)'),
      attrDestroy: lib.func('int posix_spawnattr_destroy(void *)'),
      attrFlags: lib.func('int posix_spawnattr_setflags(void *, short)'),
      attrMask: lib.func('int posix_spawnattr_setsigmask(void *, const void *)'),
      attrDefault: lib.func('int posix_spawnattr_setsigdefault(void *, const void *)'),
      sigempty: lib.func('int sigemptyset(void *)'),
      socketpair: lib.func('int socketpair(int, int, int, void *)'),
      close: lib.func('int close(int)'),
      waitpid: lib.func('int waitpid(int, void *, int)'),
      errno: () => koffi.decode(errnoLoc(), 'int') as number,
    };
  } catch {
    api = null;
  }
  return api;
}

/** True when programs can be started without fork (the FFI loads). */
export function fastSpawnAvailable(): boolean {
  return load() !== null;
}

/**
 * Starts `file` (looked up in PATH) with `args`. Throws an ErrnoException
 * (code ENOENT when there is no such program) if it cannot start.
 */
export function spawnProcess(file: string, args: string[], opts: SpawnOptions): SpawnedProcess {
  const a = load();
  if (!a) throw new Error('posix_spawn is not available');
  const actions = Buffer.alloc(OPAQUE_BYTES);
  const attr = Buffer.alloc(OPAQUE_BYTES);
  const ours: (number | undefined)[] = [];
  const theirs: number[] = [];
  a.faInit(actions);
  a.attrInit(attr);
  try {
    opts.stdio.forEach((s, fd) => {
      if (s === 'ignore') a.faOpen(actions, fd, '/dev/null', O_RDWR, 0);
      else if (s === 'pipe') {
        const pair = Buffer.alloc(8);
        if (a.socketpair(AF_UNIX, SOCK_STREAM_CLOEXEC, 0, pair) !== 0) throw errnoError(a.errno(), 'socketpair');
        ours[fd] = pair.readInt32LE(0);
        theirs.push(pair.readInt32LE(4));
        a.faDup2(actions, pair.readInt32LE(4), fd); // dup2 clears close-on-exec on the child's copy
      } else if (typeof s === 'number') a.faDup2(actions, s, fd);
      else if (fd > 2) throw new Error(`stdio ${fd}: 'inherit' is only for fds 0-2`);
      // Node marks its own stdio close-on-exec at start-up (libuv's uv_disable_stdio_inheritance):
      // dup2 onto itself clears that in the child.
      else a.faDup2(actions, fd, fd);
    });
    if (opts.cwd) a.faChdir(actions, opts.cwd);
    const sigs = Buffer.alloc(OPAQUE_BYTES);
    // Signals 1-64 back to their default action. Not sigfillset: it leaves out glibc's two
    // internal signals, which its posix_spawn would then hand to the program ignored.
    sigs.fill(0xff, 0, 8);
    a.attrDefault(attr, sigs);
    a.sigempty(sigs);
    a.attrMask(attr, sigs);
    a.attrFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (opts.newSession ? POSIX_SPAWN_SETSID : 0));
    const env = Object.entries(opts.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    const pid = [0];
    watchChildren();
    const rc = a.spawnp(pid, file, actions, attr, [file, ...args, null], [...env, null]);
    if (rc !== 0) throw errnoError(rc, `spawn ${file}`);
    const child = track(pid[0]!);
    const sockets = ours.map((fd) => (fd === undefined ? undefined : new net.Socket({ fd, readable: true, writable: true })));
    ours.length = 0;
    return { pid: child.pid, stdio: sockets, exited: child.exited, kill: child.kill, unref: child.unref };
  } finally {
    for (const fd of [...theirs, ...ours]) if (fd !== undefined) a.close(fd);
    a.faDestroy(actions);
    a.attrDestroy(attr);
  }
}

function errnoError(errno: number, what: string): NodeJS.ErrnoException {
  const names: Record<number, string> = { 2: 'ENOENT', 13: 'EACCES', 8: 'ENOEXEC', 12: 'ENOMEM', 24: 'EMFILE' };
  const code = names[errno] ?? `errno ${errno}`;
  return Object.assign(new Error(`${what}: ${code}`), { errno, code });
}

// ---- exits ----

interface Waiter { done(status: number): void; ref: boolean }
const waiting = new Map<number, Waiter>();
let watching = false;
let timer: NodeJS.Timeout | undefined;

/** SIGCHLD wakes the reaper; a slow poll backs it up and keeps the loop alive while children run. */
function watchChildren(): void {
  if (watching) return;
  watching = true;
  process.on('SIGCHLD', reap);
}

function track(pid: number): { pid: number; exited: Promise<number>; kill(sig: NodeJS.Signals | number): void; unref(): void } {
  let waiter!: Waiter;
  const exited = new Promise<number>((resolve) => { waiter = { done: resolve, ref: true }; });
  waiting.set(pid, waiter);
  reap(); // it may have exited already
  return {
    pid, exited,
    // Once reaped, the pid may be another process's: never signal it then.
    kill: (sig) => { if (waiting.get(pid) === waiter) try { process.kill(pid, sig); } catch { /* exiting */ } },
    unref: () => { waiter.ref = false; keepAlive(); },
  };
}

function reap(): void {
  const a = api;
  if (!a) return;
  const status = Buffer.alloc(4);
  for (const [pid, w] of waiting) {
    const r = a.waitpid(pid, status, WNOHANG);
    if (r === pid || (r < 0 && a.errno() === ECHILD)) {
      waiting.delete(pid);
      w.done(r === pid ? decodeStatus(status.readInt32LE(0)) : 255);
    }
  }
  keepAlive();
}

function keepAlive(): void {
  const needed = [...waiting.values()].some((w) => w.ref);
  if (needed && !timer) timer = setInterval(reap, 100);
  else if (!needed && timer) { clearInterval(timer); timer = undefined; }
}

/** waitpid's status as a shell would report it. */
function decodeStatus(st: number): number {
  const signal = st & 0x7f;
  return signal === 0 ? (st >> 8) & 0xff : 128 + signal;
}
