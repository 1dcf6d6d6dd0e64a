// What the server keeps in memory. No container state (that is the Engine's,
// read fresh on every call, so the CLI can change things meanwhile): only
// connections waiting for a start (Docker attaches before it starts), the runs
// this server started attached (it must clean up after them, and knows their
// exit code first), and exec instances (Docker creates an exec before it runs it).
import { EventEmitter } from 'node:events';
import type { StreamOut } from './streams.js';
import type { Readable } from 'node:stream';
import { ExecStore } from './exec-store.js';

/** A client attached before the container started. */
export interface PendingAttach {
  out: StreamOut;
  stdin?: Readable;
  /** Ends this client's connection without touching the container. */
  close(): void;
}

/** A start made by this server with attached clients: it waits for the exit and cleans up. */
export interface Run {
  /** The exit code, known before the cleanup. */
  exited: Promise<number>;
  /** Cleaned up (and removed, with AutoRemove). */
  finished: Promise<void>;
}

export class RunTracker extends EventEmitter {
  private runs = new Map<string, Run>();

  /** Records a start now under way; `run` undefined for a detached start (conmon's exit command cleans up). */
  started(id: string, run?: Run): void {
    if (run) {
      this.runs.set(id, run);
      void run.finished.finally(() => { if (this.runs.get(id) === run) this.runs.delete(id); });
    }
    this.emit('start', id);
  }

  get(id: string): Run | undefined { return this.runs.get(id); }

  /** Resolves when this server starts `id` (or `signal` aborts). */
  nextStart(id: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { this.off('start', onStart); signal.removeEventListener('abort', done); resolve(); };
      const onStart = (started: string) => { if (started === id) done(); };
      this.on('start', onStart);
      signal.addEventListener('abort', done);
      if (signal.aborted) done();
    });
  }
}

export class PendingAttaches {
  private byId = new Map<string, PendingAttach[]>();

  add(id: string, a: PendingAttach): void {
    const list = this.byId.get(id) ?? [];
    list.push(a);
    this.byId.set(id, list);
    void a.out.done.then(() => this.remove(id, a));
  }

  remove(id: string, a: PendingAttach): void {
    const list = this.byId.get(id)?.filter((x) => x !== a) ?? [];
    if (list.length) this.byId.set(id, list);
    else this.byId.delete(id);
  }

  /** The clients waiting for `id`, which the caller now owns. */
  take(id: string): PendingAttach[] {
    const list = (this.byId.get(id) ?? []).filter((a) => !a.out.closed);
    this.byId.delete(id);
    return list;
  }

  closeAll(): void {
    for (const list of this.byId.values()) for (const a of list) a.close();
    this.byId.clear();
  }
}

export class ServerState {
  readonly runs = new RunTracker();
  readonly attaches = new PendingAttaches();
  readonly execs = new ExecStore();

  constructor() {
    this.runs.setMaxListeners(0);
  }

  close(): void {
    this.attaches.closeAll();
    this.execs.close();
  }
}
