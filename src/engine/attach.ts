// Attaching a caller's streams to a container's or exec's conmon attach socket.
import type { EngineContext } from './context.js';
import type { AttachSocket } from '../runtime/attach.js';
import { BerthError } from './errors.js';

export interface AttachStreams {
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
  /** Forwarded to the container's stdin; its end closes the container's stdin (or sends ^D to a tty). */
  stdin?: NodeJS.ReadableStream;
  /** Initial terminal size for tty containers. */
  size?: { rows: number; cols: number };
  /** The container has a tty (end of input is a ^D, not a closed stdin). */
  tty?: boolean;
}

export interface AttachSession {
  /** Resolves when the output streams end (the process exited, or the caller detached). */
  done: Promise<void>;
  resize(rows: number, cols: number): void;
  /** Disconnects and leaves the container running. */
  detach(): void;
}

/** Loads the attach FFI (koffi, ~9 ms); call early so it overlaps other work. */
export async function attachModule(): Promise<typeof import('../runtime/attach.js')> {
  const mod = await import('../runtime/attach.js');
  mod.preload();
  return mod;
}

/** Pumps a connected attach socket to the caller's streams. `dir` holds the ctl FIFO for resizing. */
export function openSession(ctx: EngineContext, dir: string, socket: AttachSocket, a: AttachStreams): AttachSession {
  let detached = false;
  const onData = (d: Buffer | string) => { try { socket.write(Buffer.isBuffer(d) ? d : Buffer.from(d)); } catch { /* the process is gone */ } };
  const onEnd = () => {
    if (detached) return;
    try {
      if (a.tty) socket.write(Buffer.from([4]));
      else socket.closeStdin();
    } catch { /* the process is gone */ }
  };
  if (a.stdin) {
    a.stdin.on('data', onData);
    a.stdin.on('end', onEnd);
  }
  const done = socket.pump({ stdout: a.stdout, stderr: a.stderr }).finally(() => {
    a.stdin?.off('data', onData);
    a.stdin?.off('end', onEnd);
  });
  return {
    done,
    resize: (rows, cols) => ctx.monitor.resize(dir, rows, cols),
    detach: () => { detached = true; socket.close(); },
  };
}

/** `berth attach`: connects to a running container's stdio. */
export async function attachToContainer(ctx: EngineContext, id: string, running: boolean, a: AttachStreams): Promise<AttachSession> {
  if (!running) throw new BerthError('not-running', `cannot attach to container ${id.slice(0, 12)}: it is not running (start it with "berth start -a")`);
  const mod = await attachModule();
  const bundle = ctx.paths.bundle(id);
  const socket = mod.AttachSocket.connect(ctx.monitor.attachSocket(bundle));
  if (a.size) ctx.monitor.resize(bundle, a.size.rows, a.size.cols);
  return openSession(ctx, bundle, socket, a);
}
