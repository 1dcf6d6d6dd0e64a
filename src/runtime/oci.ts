// The subset of the OCI runtime spec (config.json) that Berth writes.
import type { LinuxSeccomp } from './seccomp.js';

export interface OciMount { destination: string; type: string; source: string; options?: string[] }
export interface OciRlimit { type: string; hard: number; soft: number }
export interface OciDeviceRule { allow: boolean; type?: string; major?: number; minor?: number; access?: string }
export interface OciDevice { path: string; type: string; major: number; minor: number; fileMode?: number; uid?: number; gid?: number }

export interface OciProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: { bounding: string[]; effective: string[]; permitted: string[]; inheritable?: string[]; ambient?: string[] };
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface OciResources {
  devices?: OciDeviceRule[];
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: {
    namespaces: { type: string; path?: string }[];
    cgroupsPath: string;
    resources: OciResources;
    devices?: OciDevice[];
    sysctl?: Record<string, string>;
    seccomp?: LinuxSeccomp;
    maskedPaths?: string[];
    readonlyPaths?: string[];
  };
}
