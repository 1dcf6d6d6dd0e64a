// Worker threads for a pull's per-byte work. Hashing, gunzip and tar
// extraction on the main thread left one core idle while the event loop was
// saturated (a 200 MB pull ran at ~200 MB/s whatever the network gave). The
// main thread now only receives the bytes, into 1 MiB batches that it then
// transfers without a copy to a thread (layer-thread.ts) that stores and
// unpacks them. What is decided (which blobs and layers, retries, resume, the
// image record) stays on the main thread.
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { BerthError, type ErrorKind } from '../engine/errors.js';
import { distFile } from '../sys/native.js';

/** An error as it crosses threads: a BerthError keeps its kind; any other error is plain again on arrival. */
export interface WireError { kind?: ErrorKind; message: string }

export type FromPull =
  | { op: 'blob'; id: number; root: string; digest: string }
  | { op: 'unpack'; id: number; dir: string }
  | { op: 'target'; id: number; dest?: string; diffId?: string }
  | { op: 'data'; id: number; buf: ArrayBuffer; len: number }
  | { op: 'end'; id: number }
  | { op: 'abort'; id: number; message: string };

export type ToPull =
  | { op: 'ack'; id: number; bytes: number }
  | { op: 'stored'; id: number; error?: WireError }
  | { op: 'unpacked'; id: number; size?: number; error?: WireError };

const BATCH = 1 << 20;
/** Bytes a layer may have sent and not yet had taken by the thread. */
const IN_FLIGHT = 4 << 20;

interface Settle<T> { resolve(v: T): void; reject(e: unknown): void }

function deferred<T>(): { promise: Promise<T> } & Settle<T> {
  let s!: Settle<T>;
  const promise = new Promise<T>((resolve, reject) => { s = { resolve, reject }; });
  return { promise, ...s };
}

const fromWire = (e: WireError) => (e.kind ? new BerthError(e.kind, e.message) : new Error(e.message));

/**
 * One layer's bytes on their way to a thread. `stored` settles once the blob
 * is in the content store. The same bytes are also unpacked into a layer
 * directory after unpackTo; or after unpackSoon (before the first write),
 * which starts the unpack before the pull knows where the layer goes, and
 * which unpackTo or skipUnpack must then follow.
 */
export class LayerSink {
  readonly stored: Promise<void>;
  /** Settles once the thread said all it will of this layer: what it wrote and did not keep is gone by then. */
  readonly finished: Promise<void>;
  private storedD = deferred<void>();
  private finishedD = deferred<void>();
  private unpackedD: ReturnType<typeof deferred<number | undefined>> | undefined;
  private named = false;
  private batch: Buffer | undefined;
  private batchBytes = 0;
  private inFlight = 0;
  private room: (() => void) | undefined;
  private failure: Error | undefined;
  /** Reports still to come from the thread ('stored', and 'unpacked' when unpacking). */
  private pending = 1;

  constructor(private readonly thread: LayerThread, readonly id: number, root: string, digest: string) {
    this.stored = this.storedD.promise;
    this.finished = this.finishedD.promise;
    thread.send({ op: 'blob', id, root, digest });
  }

  /** Starts unpacking into a temporary directory in `dir`. */
  unpackSoon(dir: string): void {
    if (this.unpackedD) return;
    this.unpackedD = deferred<number | undefined>();
    this.unpackedD.promise.catch(() => undefined); // a failure reaches unpackTo's caller, and the download through `failure`
    this.pending++;
    this.thread.send({ op: 'unpack', id: this.id, dir });
  }

  /** Where the layer goes and the diff ID it must have; settles with its size once it is unpacked there. */
  unpackTo(dest: string, diffId: string): Promise<number> {
    this.unpackSoon(path.dirname(dest));
    this.named = true;
    this.thread.send({ op: 'target', id: this.id, dest, diffId });
    return this.unpackedD!.promise.then((size) => size!);
  }

  /** The layer needs no unpack after all (it is there already): what unpackSoon started is thrown away, once the blob is in. */
  async skipUnpack(): Promise<void> {
    if (!this.unpackedD || this.named) return;
    this.named = true;
    this.thread.send({ op: 'target', id: this.id });
    await this.unpackedD.promise;
  }

  /** Room for the next bytes, in the batch the thread gets next (so a socket can read straight into it). */
  space(): Buffer {
    this.batch ??= Buffer.allocUnsafeSlow(BATCH);
    return this.batch.subarray(this.batchBytes);
  }

  /** `n` bytes were written at the start of space(); a full batch goes to the thread. A promise: wait for room before more. */
  filled(n: number): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    this.batchBytes += n;
    if (this.batchBytes === BATCH) this.flush();
    if (this.inFlight <= IN_FLIGHT) return undefined;
    return new Promise<void>((r) => { this.room = r; });
  }

  /** No more bytes: the thread verifies the blob, then finishes the unpack. */
  end(): void {
    this.flush();
    this.thread.send({ op: 'end', id: this.id });
  }

  /** Stops both consumers; `stored` (and the unpack) then reject once their temporary files are gone. Takes no more bytes. */
  abort(message: string): void {
    this.failure ??= new Error(message);
    this.batch = undefined;
    this.batchBytes = 0;
    this.thread.send({ op: 'abort', id: this.id, message });
  }

  /** Hands the batch to the thread: transferred, not copied. */
  private flush(): void {
    if (!this.batchBytes) return;
    const buf = this.batch!.buffer as ArrayBuffer;
    const len = this.batchBytes;
    this.batch = undefined;
    this.batchBytes = 0;
    this.inFlight += len;
    this.thread.send({ op: 'data', id: this.id, buf, len }, [buf]);
  }

  /** A message from the thread about this layer. */
  receive(m: ToPull): void {
    if (m.op === 'ack') {
      this.inFlight -= m.bytes;
      if (this.inFlight <= IN_FLIGHT) this.wake();
      return;
    }
    const error = m.error && fromWire(m.error);
    if (m.op === 'stored') {
      if (error) this.storedD.reject(error);
      else this.storedD.resolve();
    } else if (error) {
      this.unpackedD?.reject(error);
    } else {
      this.unpackedD?.resolve(m.size);
    }
    if (error) {
      // A failed store or unpack takes no more bytes, and a stream destroyed with writes pending never
      // acks them: a download waiting for room must stop now, not at the socket's idle timeout.
      this.failure ??= error;
      this.wake();
    }
    if (--this.pending === 0) {
      this.thread.forget(this.id);
      this.finishedD.resolve();
    }
  }

  /** The thread died: nothing more will come. */
  fail(e: Error): void {
    this.failure = e;
    this.storedD.reject(e);
    this.unpackedD?.reject(e);
    this.finishedD.resolve();
    this.wake();
  }

  private wake(): void {
    const r = this.room;
    this.room = undefined;
    r?.();
  }
}

/** One worker thread and the layers it is working on. */
class LayerThread {
  private readonly sinks = new Map<number, LayerSink>();
  private readonly worker: Worker;

  constructor(file: string) {
    // Kept referenced: after the last byte arrives, the thread's reports are all the pull waits for.
    this.worker = new Worker(file);
    this.worker.on('message', (m: ToPull) => this.sinks.get(m.id)?.receive(m));
    const died = (e: Error) => {
      for (const sink of this.sinks.values()) sink.fail(e);
      this.sinks.clear();
    };
    this.worker.on('error', (e) => died(new BerthError('internal', `a layer worker thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => died(new BerthError('internal', `a layer worker thread exited (status ${code})`)));
  }

  send(m: FromPull, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(m, transfer);
  }

  add(sink: LayerSink): void { this.sinks.set(sink.id, sink); }
  forget(id: number): void { this.sinks.delete(id); }
  get load(): number { return this.sinks.size; }
  terminate(): Promise<number> { return this.worker.terminate(); }
}

/**
 * The threads of one pull, started on first use (a pull with nothing to fetch
 * starts none), at most one per core and per parallel download.
 */
export class LayerWorkers {
  private readonly threads: LayerThread[] = [];
  private nextId = 0;
  private readonly max: number;

  /** `script` is the thread's code (the build's layer-worker.cjs unless a test gives another). */
  constructor(parallel: number, private readonly script?: string) {
    this.max = Math.max(1, Math.min(parallel, availableParallelism()));
  }

  /** Starts the threads `layers` layers will use ahead of them (a thread takes ~30 ms to boot). */
  warm(layers: number): void {
    while (this.threads.length < Math.min(layers, this.max)) this.start();
  }

  /** A sink for the blob `digest`, stored under the content store at `root`. */
  open(root: string, digest: string): LayerSink {
    let t = this.threads.find((x) => x.load === 0);
    if (!t && this.threads.length < this.max) t = this.start();
    t ??= this.threads.reduce((a, b) => (b.load < a.load ? b : a));
    const sink = new LayerSink(t, this.nextId++, root, digest);
    t.add(sink);
    return sink;
  }

  private start(): LayerThread {
    const t = new LayerThread(this.script ?? distFile('layer-worker.cjs'));
    this.threads.push(t);
    return t;
  }

  /** Stops the threads without waiting for them (~8 ms): every layer they had has been reported. */
  close(): void {
    for (const t of this.threads.splice(0)) void t.terminate();
  }
}
