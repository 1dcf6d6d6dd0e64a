// Client for conmon's attach socket: a unix SOCK_SEQPACKET socket that Node core
// cannot open (koffi does). Each packet from conmon is [stream byte][payload];
// stream 2 = stdout, 3 = stderr. Bytes written to the socket reach the container's stdin.
import fs from 'node:fs';
import { libc, check } from '../sys/libc.js';

const AF_UNIX = 1, SOCK_SEQPACKET = 5, SOCK_CLOEXEC = 0o2000000, O_PATH = 0o10000000, SHUT_WR = 1, SHUT_RDWR = 2;
const PACKET = 8193;

export interface AttachHandlers {
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
}

/** Loads the FFI ahead of time (it takes ~9 ms), e.g. while the container is being created. */
export function preload(): void {
  libc();
}

export class AttachSocket {
  private closed = false;
  private pumping = false;
  private released = false;
  private constructor(readonly fd: number) {}

  /** Connects to `socketPath`; long paths go through /proc/self/fd to dodge the 108-byte sun_path limit. */
  static connect(socketPath: string): AttachSocket {
    const c = libc();
    const fd = check(c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0) as number, 'socket');
    let pathFd = -1;
    let target = socketPath;
    if (Buffer.byteLength(socketPath) > 100) {
      pathFd = check(c.open(socketPath, O_PATH | SOCK_CLOEXEC, 0) as number, `open ${socketPath}`);
      target = `/proc/self/fd/${pathFd}`;
    }
    try {
      const addr = Buffer.alloc(110);
      addr.writeUInt16LE(AF_UNIX, 0);
      addr.write(target, 2);
      check(c.connect(fd, addr, 2 + Buffer.byteLength(target) + 1) as number, `connect ${socketPath}`);
    } catch (e) {
      c.close(fd);
      throw e;
    } finally {
      if (pathFd >= 0) c.close(pathFd);
    }
    return new AttachSocket(fd);
  }

  /** Reads packets until conmon closes the socket (the container exited) or close() is called. */
  async pump(h: AttachHandlers): Promise<void> {
    this.pumping = true;
    const buf = Buffer.alloc(PACKET);
    try {
      for (;;) {
        let n: number;
        try {
          n = await new Promise<number>((resolve, reject) => fs.read(this.fd, buf, 0, PACKET, null, (e, bytes) => (e ? reject(e) : resolve(bytes))));
        } catch (e) {
          if (this.closed) return;
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ECONNRESET' || code === 'EBADF') return;
          throw e;
        }
        if (n === 0 || this.closed) return;
        const payload = Buffer.from(buf.subarray(1, n));
        if (buf[0] === 3) h.stderr(payload);
        else h.stdout(payload);
      }
    } finally {
      this.pumping = false;
      this.release();
    }
  }

  write(data: Buffer): void {
    let off = 0;
    while (off < data.length) off += fs.writeSync(this.fd, data, off, Math.min(8192, data.length - off));
  }

  /** Signals end of stdin to the container. */
  closeStdin(): void {
    if (!this.closed) libc().shutdown(this.fd, SHUT_WR);
  }

  /** Disconnects; a pump in progress returns (shutdown wakes its blocked read), then the fd is closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().shutdown(this.fd, SHUT_RDWR);
    if (!this.pumping) this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.closed = true;
    libc().close(this.fd);
  }
}
