// Output and input streams of attach, exec and logs: the `101 UPGRADED` hijack
// (docker CLI) or a plain streaming 200 (dockerode, testcontainers); raw bytes
// with a tty, 8-byte multiplexed frames without; the client's half-close is end
// of stdin only; the detach key sequence drops the client and leaves the
// process running.
import { PassThrough, Transform, type Readable } from 'node:stream';
import type { Call } from './router.js';
import { commonHeaders } from './respond.js';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';
/** A client that stops reading is dropped once this much output waits for it. */
const MAX_BUFFERED = 16 * 1024 * 1024;

export interface StreamOut {
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
  /** Resolves once buffered output has been taken by the client (or it is gone). */
  drain(): Promise<void>;
  end(): void;
  readonly closed: boolean;
  /** Resolves when the connection is closed, by either side. */
  readonly done: Promise<void>;
}

/** One frame: [stream, 0, 0, 0, big-endian length] + payload. */
export function frame(stream: 1 | 2, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(data.length, 4);
  return Buffer.concat([head, data]);
}

/**
 * Starts the response of a streaming call: 101 on a hijacked connection, else 200
 * with the headers flushed at once. `stdin`: a readable of the client's input
 * (hijacked connections only), ending when the client half-closes.
 */
export function openStream(c: Call, tty: boolean, o: { stdin?: boolean; contentType?: string } = {}): { out: StreamOut; stdin?: Readable } {
  const contentType = o.contentType ?? (tty ? RAW_STREAM : MULTIPLEXED_STREAM);
  const conn = c.hijack ? c.hijack.socket : c.res!;
  let stdin: Readable | undefined;
  if (c.hijack) {
    const { socket, rest } = c.hijack;
    const head = ['HTTP/1.1 101 UPGRADED', `Content-Type: ${contentType}`, 'Connection: Upgrade', 'Upgrade: tcp',
      ...Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';
    socket.write(head);
    (socket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    if (o.stdin) {
      const input = new PassThrough();
      if (rest.length) input.write(rest);
      socket.on('data', (d: Buffer) => input.write(d));
      socket.on('end', () => input.end());
      // readUpgradeBody pauses the socket when the body came after the head; a 'data' listener does not undo that.
      socket.resume();
      stdin = input;
    } else {
      socket.resume(); // nothing to deliver: keep reading so a close is noticed
    }
  } else {
    const res = c.res!;
    res.writeHead(200, { ...commonHeaders(), 'Content-Type': contentType });
    res.flushHeaders();
    (res.socket as { setNoDelay?: (b: boolean) => void } | null)?.setNoDelay?.(true);
  }
  let closed = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => { resolveDone = r; });
  const onClose = () => { closed = true; resolveDone(); };
  conn.once('close', onClose);
  conn.on('error', () => { /* the client went away: 'close' follows */ });
  const send = (data: Buffer) => {
    if (closed || conn.destroyed) return;
    conn.write(data);
    if (conn.writableLength > MAX_BUFFERED) conn.destroy();
  };
  const out: StreamOut = {
    stdout: (d) => { if (d.length) send(tty ? d : frame(1, d)); },
    stderr: (d) => { if (d.length) send(tty ? d : frame(2, d)); },
    drain: () => closed || !conn.writableNeedDrain ? Promise.resolve() : new Promise<void>((r) => {
      const fin = () => { conn.off('drain', fin); conn.off('close', fin); r(); };
      conn.on('drain', fin);
      conn.on('close', fin);
    }),
    end: () => {
      if (closed) return;
      if (c.hijack) {
        // Our side is done; the client may still be sending (its stdin): close once it is flushed.
        c.hijack.socket.end(() => c.hijack!.socket.destroy());
      } else {
        c.res!.end();
      }
    },
    get closed() { return closed; },
    done,
  };
  return { out, stdin };
}

/**
 * Passes stdin through until the detach key sequence (e.g. ctrl-p,ctrl-q), then
 * calls `onDetach` and passes nothing more. Bytes of a partial match are held
 * back until the match fails.
 */
export function detachFilter(keys: number[], onDetach: () => void): Transform {
  let matched = 0;
  let detached = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (detached || !keys.length) return cb(null, detached ? undefined : chunk);
      const out: number[] = [];
      for (const b of chunk) {
        if (detached) break;
        if (b === keys[matched]) {
          matched++;
          if (matched === keys.length) { detached = true; onDetach(); }
          continue;
        }
        if (matched) { out.push(...keys.slice(0, matched)); matched = 0; }
        if (b === keys[0]) matched = 1;
        else out.push(b);
      }
      cb(null, out.length ? Buffer.from(out) : undefined);
    },
  });
}

/** ctrl-<key> is the key's index here (ctrl-@ = 0, ctrl-a = 1, … ctrl-_ = 31). */
const CTRL_KEYS = '@abcdefghijklmnopqrstuvwxyz[\\]^_';

/** Docker's detach key spec ("ctrl-p,ctrl-q", "" = none) as bytes; invalid specs fall back to the default. */
export function detachKeys(spec: string | undefined): number[] {
  const s = spec ?? 'ctrl-p,ctrl-q';
  if (s === '') return [];
  const out: number[] = [];
  for (const k of s.split(',')) {
    const ctrl = /^ctrl-([a-z@[\\\]^_])$/i.exec(k);
    if (ctrl) {
      out.push(CTRL_KEYS.indexOf(ctrl[1]!.toLowerCase()));
    } else if (k.length === 1) {
      out.push(k.charCodeAt(0));
    } else {
      return [16, 17];
    }
  }
  return out;
}
