// A GET on a connection of its own whose body can be read straight into the
// caller's memory: blob downloads. node:http allocates 64 KiB for every read
// and passes each piece through its parser and a stream; for a 200 MB pull
// that cost the main thread ~350 ms of CPU, the largest share of the pull's
// wall time. Here the socket reads (net or tls `onread`) go into a buffer the
// caller gives (a worker's 1 MiB batch), ~90 ms for the same bytes.
//
// Only the response head is parsed here, strictly. A response whose body is
// not delimited by Content-Length (chunked, or read to the close) is left to
// node:http: `directGet` answers undefined and the caller asks again there.
// Connections are kept for the next GET to the same origin (DirectPool).
import net from 'node:net';
import tls from 'node:tls';
import { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';

/** Where `DirectBody.into` puts the bytes. */
export interface BodyTarget {
  /** Room for the next bytes (never empty). */
  space(): Buffer;
  /** `n` bytes were written at the start of the last space(); a promise pauses the reading until it settles. */
  filled(n: number): void | Promise<void>;
}

export interface DirectResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: DirectBody;
}

const MAX_HEAD = 64 * 1024;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n\0]*?)[ \t]*$/;

/** A socket-level failure, as node:http would report it (networkError() reads the code). */
function socketError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Sends GET `url` with `headers` (over TLS with `tlsOptions` for https) and
 * reads the response head. Undefined: the body is not Content-Length
 * delimited, so this connection was closed unread and the caller should use
 * node:http. Rejects with the socket's error before a head arrives. With a
 * `pool`, the connection serves the next GET to the same origin once its body
 * was read to the end, as with a keep-alive agent: no new TCP and TLS
 * handshakes per blob.
 */
export async function directGet(url: URL, headers: Record<string, string>, tlsOptions: tls.ConnectionOptions | undefined, timeoutMs: number, pool?: DirectPool): Promise<DirectResponse | undefined> {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, ...(pool ? [] : ['connection: close'])];
  for (const [k, v] of Object.entries(headers)) {
    if (/[\r\n\0]/.test(k + v)) throw new Error(`header ${k} holds a line break`);
    lines.push(`${k}: ${v}`);
  }
  const request = lines.join('\r\n') + '\r\n\r\n';
  const origin = `${url.protocol}//${url.host}`;
  const release = (c: Conn) => pool?.give(origin, c);
  const idle = pool?.take(origin);
  if (idle) {
    try {
      return await new Exchange(idle, request, timeoutMs, true, release).response;
    } catch (e) {
      // The server closed the idle connection as we sent: ask again on a new one, as a keep-alive agent does.
      if (!(e instanceof StaleConnection)) throw e;
    }
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const conn = new Conn(host, Number(url.port) || (tlsOptions ? 443 : 80), tlsOptions);
  return new Exchange(conn, request, timeoutMs, false, release).response;
}

/** A kept connection that failed before any byte of the answer: nothing was lost, try a new one. */
class StaleConnection extends Error {}

/** Idle connections of direct GETs, by origin, for the next GET there. */
export class DirectPool {
  private readonly idle = new Map<string, Conn[]>();

  take(origin: string): Conn | undefined {
    const list = this.idle.get(origin);
    for (let c = list?.pop(); c; c = list!.pop()) if (c.wake()) return c;
    return undefined;
  }

  give(origin: string, c: Conn): void {
    let list = this.idle.get(origin);
    if (!list) this.idle.set(origin, (list = []));
    const kept = list;
    kept.push(c);
    c.rest(() => { const i = kept.indexOf(c); if (i >= 0) kept.splice(i, 1); });
  }

  close(): void {
    for (const list of this.idle.values()) for (const c of list) c.sock.destroy();
    this.idle.clear();
  }
}

/** How long an idle connection is kept. */
const KEEP_IDLE_MS = 30_000;
/** Where bytes go that arrive when no exchange expects them (they close the connection). */
const SPARE = Buffer.allocUnsafe(256);

/** One connection; its reads go to the exchange on it now. */
class Conn {
  readonly sock: net.Socket;
  exchange: Exchange | undefined;
  private onIdleClose: (() => void) | undefined;

  constructor(host: string, port: number, tlsOptions: tls.ConnectionOptions | undefined) {
    const onread = {
      buffer: () => this.exchange?.space() ?? SPARE,
      callback: (n: number, buf: Buffer) => {
        if (this.exchange) return this.exchange.received(n, buf);
        this.sock.destroy(); // a server talking out of turn
        return false;
      },
    };
    this.sock = tlsOptions
      ? tls.connect({ ...tlsOptions, host, port, onread } as tls.ConnectionOptions)
      : net.connect({ host, port, onread } as net.NetConnectOpts);
    this.sock.on('error', (e) => this.exchange?.fail(e));
    this.sock.on('close', () => {
      this.exchange?.fail(socketError('the connection closed before the whole response arrived (premature close)', 'ECONNRESET'));
      this.onIdleClose?.();
    });
    this.sock.on('timeout', () => {
      const ex = this.exchange;
      this.sock.destroy(ex && socketError(`no answer for ${ex.timeoutMs / 1000} s`, 'ETIMEDOUT'));
    });
  }

  /** Idle: it does not keep the process alive, and it closes after a while. */
  rest(onClose: () => void): void {
    this.exchange = undefined;
    this.onIdleClose = onClose;
    this.sock.setTimeout(KEEP_IDLE_MS);
    this.sock.unref();
  }

  /** Taken from the pool: false when it closed meanwhile. */
  wake(): boolean {
    this.onIdleClose = undefined;
    if (this.sock.destroyed) return false;
    this.sock.ref();
    return true;
  }
}

/** One request and its response on a connection: first the head, then the body for the DirectBody. */
class Exchange {
  readonly response: Promise<DirectResponse | undefined>;
  private resolve!: (r: DirectResponse | undefined) => void;
  private reject!: (e: Error) => void;
  private head: Buffer | undefined = Buffer.allocUnsafe(MAX_HEAD);
  private headBytes = 0;
  /** The memory the socket reads into next. */
  private given: Buffer | undefined;
  private body: DirectBody | undefined;

  constructor(private readonly conn: Conn, request: string, readonly timeoutMs: number, private readonly reused: boolean, private readonly release: (c: Conn) => void) {
    this.response = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
    conn.exchange = this;
    conn.sock.setTimeout(timeoutMs);
    if (reused) conn.sock.write(request);
    else conn.sock.once(conn.sock instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => conn.sock.write(request));
  }

  fail(e: Error): void {
    if (this.body) this.body.failed(e);
    else if (this.head) {
      const stale = this.reused && this.headBytes === 0;
      this.head = undefined;
      this.reject(stale ? new StaleConnection(e.message) : e);
    }
  }

  space(): Buffer {
    if (this.body) return this.body.space();
    return (this.given = this.head ? this.head.subarray(this.headBytes) : SPARE);
  }

  received(n: number, buf: Buffer): boolean {
    if (this.body) return this.body.received(n, buf);
    if (!this.head) return false;
    // A kept connection's first read was asked for while it was idle: it went to SPARE.
    if (buf !== this.given) buf.copy(this.head, this.headBytes, 0, n);
    this.headBytes += n;
    const end = this.head.subarray(0, this.headBytes).indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.headBytes < MAX_HEAD) return true;
      this.conn.sock.destroy(socketError(`response headers larger than ${MAX_HEAD / 1024} KiB`, 'HPE_HEADER_OVERFLOW'));
      return false;
    }
    const head = this.head;
    this.head = undefined;
    let parsed: ParsedHead;
    try {
      parsed = parseHead(head.toString('latin1', 0, end));
    } catch (e) {
      this.conn.sock.destroy();
      this.reject(e as Error);
      return false;
    }
    if (parsed.length === undefined) {
      this.conn.sock.destroy();
      this.resolve(undefined);
      return false;
    }
    // Read to its end (and not a byte more), the connection serves the next GET unless a side closes it.
    const finished = (clean: boolean): boolean => {
      this.conn.exchange = undefined;
      if (clean && parsed.keepAlive) {
        this.release(this.conn);
        return true;
      }
      this.conn.sock.destroy();
      return false;
    };
    this.body = new DirectBody(this.conn.sock, parsed.length, finished);
    this.resolve({ status: parsed.status, headers: parsed.headers, body: this.body });
    // Body bytes that came with the head.
    return this.body.received(this.headBytes - end - 4, head.subarray(end + 4, this.headBytes));
  }
}

interface ParsedHead { status: number; headers: IncomingHttpHeaders; length: number | undefined; keepAlive: boolean }

/** Status and headers (names in lower case, repeats joined as node:http does); `length` undefined unless Content-Length delimits the body. */
function parseHead(text: string): ParsedHead {
  const [first, ...rest] = text.split('\r\n');
  const m = STATUS_LINE.exec(first!);
  if (!m) throw socketError(`the answer is not HTTP/1.1 (it starts ${JSON.stringify(first!.slice(0, 40))})`, 'HPE_INVALID_CONSTANT');
  const status = Number(m[2]);
  const headers: Record<string, string> = Object.create(null) as Record<string, string>; // a header may be named "__proto__"
  for (const line of rest) {
    const h = HEADER_LINE.exec(line);
    if (!h) throw socketError(`invalid header line ${JSON.stringify(line.slice(0, 60))}`, 'HPE_INVALID_HEADER_TOKEN');
    const name = h[1]!.toLowerCase();
    headers[name] = name in headers ? `${headers[name]}, ${h[2]}` : h[2]!;
  }
  let length: number | undefined;
  const cl = headers['content-length'];
  if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) throw socketError(`invalid Content-Length ${JSON.stringify(cl.slice(0, 40))}`, 'HPE_INVALID_CONTENT_LENGTH');
    length = Number(cl);
  }
  if (headers['transfer-encoding'] !== undefined || status < 200) length = undefined;
  else if (status === 204 || status === 304) length = 0;
  const connection = (headers.connection ?? '').toLowerCase();
  const keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { status, headers, length, keepAlive };
}

/**
 * A response body of known length. Read as a stream, it yields copies of what
 * the socket reads; `into()` instead has the socket read into the target's
 * memory. Destroying it closes the connection.
 */
export class DirectBody extends Readable {
  private got = 0;
  private target: BodyTarget | undefined;
  /** The target's memory the socket reads into next. */
  private given: Buffer | undefined;
  private scratch: Buffer | undefined;
  private waiting: ((e?: Error) => void) | undefined;
  private error: Error | undefined;
  /** All bytes arrived, or the body failed: nothing more will happen. */
  private settled = false;

  /** `finished(clean)` is told the body arrived, clean when no byte beyond it came; it answers whether the socket reads on. */
  constructor(private readonly sock: net.Socket, readonly length: number, private readonly finished: (clean: boolean) => boolean) {
    super();
    // A body nobody reads (a redirect's, say) may still fail; that is no reason to crash.
    this.on('error', () => undefined);
  }

  /** Reads the whole body into `target`; resolves once the last byte is there. */
  into(target: BodyTarget): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    this.target = target;
    try {
      // What came with the head waits in the stream's buffer.
      let pending: Buffer | null;
      while ((pending = this.read() as Buffer | null) !== null) this.copyIn(pending);
    } catch (e) {
      this.failed(e as Error);
      return Promise.reject(e);
    }
    if (this.got === this.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiting = (e) => (e ? reject(e) : resolve());
      this.sock.resume(); // it may have stopped when the stream's buffer filled
    });
  }

  /** Copies already-read bytes into the target (they came before into() was called). */
  private copyIn(bytes: Buffer): void {
    for (let at = 0; at < bytes.length;) {
      const room = this.target!.space();
      const n = bytes.copy(room, 0, at);
      at += n;
      this.target!.filled(n)?.then(undefined, (e: Error) => this.failed(e));
    }
  }

  space(): Buffer {
    if (this.target) return (this.given = this.target.space());
    return (this.scratch ??= Buffer.allocUnsafe(64 * 1024));
  }

  /** `n` bytes were read into `buf`; false stops the socket's reading for now. */
  received(n: number, buf: Buffer): boolean {
    const take = Math.min(n, this.length - this.got); // a server sending more than it announced: the rest is ignored
    this.got += take;
    let more = true;
    if (take > 0) {
      if (this.target) {
        try {
          if (buf !== this.given) {
            this.copyIn(buf.subarray(0, take)); // read into the scratch buffer, asked for before into() began
          } else {
            const wait = this.target.filled(take);
            if (wait) {
              more = false;
              wait.then(() => { if (!this.destroyed && this.got < this.length) this.sock.resume(); }, (e: Error) => this.failed(e));
            }
          }
        } catch (e) {
          this.failed(e as Error);
          return false;
        }
      } else {
        more = this.push(Buffer.from(buf.subarray(0, take)));
      }
    }
    if (this.got === this.length) {
      this.settled = true;
      const readsOn = this.finished(take === n);
      if (this.target) this.settle();
      else this.push(null);
      return readsOn;
    }
    return more;
  }

  private settle(e?: Error): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.(e);
  }

  /** The connection failed (or a target refused bytes) before the body's end. */
  failed(e: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.error = e;
    this.sock.destroy();
    if (this.waiting) this.settle(e);
    else this.destroy(e);
  }

  override _read(): void {
    if (!this.target && this.got < this.length) this.sock.resume();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.settled) this.sock.destroy(); // once settled, the connection may serve another GET
    cb(err);
  }
}

/** Reads all of `body` into `target`: straight from the socket for a DirectBody, else copied from the stream. */
export async function readInto(body: Readable, target: BodyTarget): Promise<void> {
  if (body instanceof DirectBody) return body.into(target);
  for await (const chunk of body as AsyncIterable<Buffer>) {
    for (let at = 0; at < chunk.length;) {
      const n = chunk.copy(target.space(), 0, at);
      at += n;
      await target.filled(n);
    }
  }
}
