// Driver interfaces for the OCI runtime and the container monitor. The engine
// asks a driver what it can do; it never guesses.

export interface RuntimeState { id: string; pid: number; status: 'created' | 'running' | 'paused' | 'stopped'; bundle: string }

export interface OciRuntime {
  readonly name: string;
  readonly path: string;
  /** Global flags every invocation needs (e.g. --root for a private state dir). */
  readonly globalArgs: string[];
  start(id: string): Promise<void>;
  kill(id: string, signal: string, all?: boolean): Promise<void>;
  delete(id: string, force?: boolean): Promise<void>;
  state(id: string): Promise<RuntimeState | undefined>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
}

export interface MonitorCreateOptions {
  id: string;
  name: string;
  bundle: string;              // holds config.json; conmon puts attach, ctl, pidfile here
  logDriver: string;           // k8s-file | none
  logPath: string;
  logSizeMax?: number;
  tty: boolean;
  stdin: boolean;
  exitCommand: string[];       // argv run by the monitor after the container exits
}

export interface MonitorResult { pid: number; monitorPid: number }

export interface Monitor {
  readonly name: string;
  /** Starts the monitor, which runs `runtime create`; resolves when the container exists. */
  create(opts: MonitorCreateOptions): Promise<MonitorResult>;
  /** Where the monitor records the exit code (decimal text). */
  exitFile(bundle: string, id: string): string;
  oomFile(bundle: string): string;
  attachSocket(bundle: string): string;
  resize(bundle: string, rows: number, cols: number): void;
}
