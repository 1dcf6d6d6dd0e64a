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
  /** Runs a process with the caller's own stdio, without a monitor (no tty); resolves with its exit code. */
  execForeground(id: string, processFile: string, logFile: string, stdin: boolean): Promise<number>;
  /** Runs a process, capturing its output, killed after the timeout (health checks). */
  execCapture(id: string, processFile: string, dir: string, timeoutMs: number): Promise<{ code: number; output: string; timedOut: boolean }>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Changes the cgroup limits of a live container to those in `resourcesFile` (OCI LinuxResources JSON). */
  update(id: string, resourcesFile: string): Promise<void>;
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

export interface MonitorExecOptions {
  containerId: string;
  name: string;
  execId: string;
  execDir: string;             // the exec's own directory: attach socket, ctl fifo, exit file
  processSpec: string;         // path of the OCI process JSON
  tty: boolean;
  stdin: boolean;
  attach: boolean;
}

export interface ExecHandle {
  socketPath: string;
  /** Runs the process (after the attach socket is connected); resolves with its pid. */
  begin(): Promise<number>;
  /** Resolves with the exit code once the process exits. */
  exitCode(): Promise<number>;
  /** Lets this process exit without waiting (detached exec). */
  release(): void;
}

export interface Monitor {
  readonly name: string;
  /** Starts the monitor, which runs `runtime create`; resolves when the container exists. */
  create(opts: MonitorCreateOptions): Promise<MonitorResult>;
  /** Where the monitor records the exit code (decimal text). */
  exitFile(bundle: string, id: string): string;
  oomFile(bundle: string): string;
  attachSocket(bundle: string): string;
  resize(bundle: string, rows: number, cols: number): void;
  exec(o: MonitorExecOptions): Promise<ExecHandle>;
}
