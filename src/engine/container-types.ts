import type { NetworkAttachment, NetworkEndpoint, PortMapping } from '../network/types.js';
// What a container is: the configuration it was created with (immutable but for
// rename/update) and the status the engine observed.

export interface MountSpec {
  type: 'bind' | 'tmpfs' | 'volume';
  source: string;            // host path (bind), volume name, or '' (tmpfs)
  destination: string;
  options: string[];         // ro, rw, nosuid, size=…, mode=…, rbind, …
  /** Volumes, only while the container is created (not stored): how to create the volume if it does not exist. */
  volumeCreate?: { anonymous: boolean; labels: Record<string, string>; options: Record<string, string> };
}

export interface RestartPolicy { name: 'no' | 'on-failure' | 'always' | 'unless-stopped'; maximumRetryCount: number }

export interface Resources {
  memory?: number; memoryReservation?: number; memorySwap?: number;
  cpuShares?: number; cpuQuota?: number; cpuPeriod?: number; cpusetCpus?: string; cpusetMems?: string;
  pidsLimit?: number; blkioWeight?: number;
  /** --cpus × 1e9 (Docker's NanoCpus); becomes a CFS quota over a 100ms period. memorySwap: memory+swap, -1 = unlimited. */
  nanoCpus?: number;
}

export interface ContainerConfig {
  id: string;
  name: string;
  image: string;               // as the user gave it
  imageId: string;
  imageName: string;           // resolved full name (or the ID when untagged)
  created: string;             // RFC 3339
  /** The command and entrypoint the user gave (null = from the image). */
  cmd: string[] | null;
  entrypoint: string[] | null;
  /** The final process: entrypoint + cmd after applying the image defaults. */
  args: string[];
  env: string[];
  workingDir: string;
  user: string;                // as given or from the image ("" = root)
  groupAdd: string[];
  hostname: string;
  tty: boolean;
  openStdin: boolean;
  mounts: MountSpec[];
  readOnly: boolean;
  readOnlyTmpfs: boolean;
  networkMode: string;         // bridge | none | host | container:<id>
  networks: NetworkAttachment[];  // bridge mode: the networks to join
  ports: PortMapping[];        // requested published ports (hostPort 0 = chosen at start)
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  addHosts: string[];
  exposed?: string[];          // `80/tcp` keys (absent in records made before it was kept)
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  noNewPrivileges: boolean;
  seccompProfile: string;      // '' = default, 'unconfined', or a file path
  init: boolean;
  autoRemove: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  stopSignal: string;
  stopTimeout: number;
  restartPolicy: RestartPolicy;
  resources: Resources;
  ulimits: string[];
  sysctls: Record<string, string>;
  devices: string[];
  shmSize: number;
  logDriver: string;           // k8s-file | json-file | none
  logOpts: Record<string, string>;
  cgroupParent: string;
  healthcheck?: HealthConfig;
  rootfsUpper: boolean;        // always true for image containers (overlay)
}

export type ContainerState = 'created' | 'running' | 'paused' | 'stopped' | 'exited' | 'removing';

export interface ContainerStatus {
  pid: number;
  conmonPid: number;
  conmonStart?: number;        // /proc start time of conmon, to detect pid reuse
  startedAt: string;           // RFC 3339 or ''
  finishedAt: string;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  restartCount: number;
  stoppedByUser: boolean;
  /** Health check state (see engine/health.ts). */
  health?: HealthState;
  /** Consecutive quick restarts, for the restart policy's back-off. */
  backoff?: number;
  mounted: boolean;
  /** Where the container is on its networks while it runs (bridge mode). */
  network?: { endpoints: NetworkEndpoint[]; ports: PortMapping[] };
}

export interface ContainerRecord {
  config: ContainerConfig;
  state: ContainerState;
  status: ContainerStatus;
}

export function emptyStatus(): ContainerStatus {
  return { pid: 0, conmonPid: 0, startedAt: '', finishedAt: '', exitCode: 0, oomKilled: false, error: '', restartCount: 0, stoppedByUser: false, mounted: false };
}

export interface HealthResult { Start: string; End: string; ExitCode: number; Output: string }

export interface HealthState {
  status: 'starting' | 'healthy' | 'unhealthy';
  failingStreak: number;
  log: HealthResult[];
}

export interface HealthConfig {
  test: string[];              // ["CMD", ...] | ["CMD-SHELL", "cmd"]
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  retries: number;
  onFailure: 'none' | 'kill' | 'restart' | 'stop';
}
