// Per-registry connection settings from the engine config and the command line:
// TLS verification, plain-HTTP fallback, CA directories, mirrors and the
// registries tried for short names (the parts of Podman's registries.conf Berth has).
import path from 'node:path';
import type { EngineConfig } from '../engine/config.js';
import { invalidArgument } from '../engine/errors.js';
import { DEFAULT_DOMAIN } from '../image/reference.js';

/** What a command line may say about registries (pull, push, login, search). */
export interface RegistryOptions {
  /** undefined: verify, but allow plain HTTP for loopback and configured insecure registries. */
  tlsVerify?: boolean;
  /** A directory with *.crt CAs (and client *.cert/*.key) used instead of <certsDir>/<host>. */
  certDir?: string;
  /** The credentials file to read and write instead of the default ones. */
  authfile?: string;
  /** USER:PASSWORD given on the command line (--creds). */
  creds?: string;
}

export interface HostSettings {
  /** host[:port] as written in references (docker.io, 127.0.0.1:5000). */
  host: string;
  /** Where the API lives (docker.io → registry-1.docker.io). */
  apiHost: string;
  verify: boolean;
  /** Use plain HTTP when the server does not speak TLS. */
  allowHttp: boolean;
  /** CA certificates (*.crt) and client certificates (*.cert + *.key) for this host. */
  certDir: string;
}

/** Docker Hub's API host; `docker.io` is only its name in references. */
export function apiHostOf(host: string): string {
  return host === DEFAULT_DOMAIN || host === 'index.docker.io' ? 'registry-1.docker.io' : host;
}

export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

function listed(list: string[], host: string): boolean {
  const bare = host.replace(/:\d+$/, '');
  return list.some((e) => e === host || e === bare);
}

export function hostSettings(cfg: EngineConfig, host: string, o: RegistryOptions = {}): HostSettings {
  const insecure = listed(cfg.registryInsecure, host);
  // Like Docker, loopback registries may speak plain HTTP (the traffic never leaves the host);
  // an explicit --tls-verify=true forbids that.
  const verify = o.tlsVerify ?? !insecure;
  const allowHttp = o.tlsVerify === false || insecure || (o.tlsVerify === undefined && isLoopback(host));
  return { host, apiHost: apiHostOf(host), verify, allowHttp, certDir: o.certDir ?? path.join(cfg.certsDir, host) };
}

export interface Mirror { host: string; prefix: string }

/** Mirrors configured for `domain`, in order ("docker.io=127.0.0.1:5000/cache"). */
export function mirrorsOf(cfg: EngineConfig, domain: string): Mirror[] {
  const out: Mirror[] = [];
  for (const entry of cfg.registryMirrors) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw invalidArgument(`registry mirror "${entry}" in the config must look like REGISTRY=MIRROR[/PREFIX], e.g. docker.io=mirror.example:5000`);
    if (entry.slice(0, eq).trim() !== domain) continue;
    const loc = entry.slice(eq + 1).trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    const slash = loc.indexOf('/');
    out.push(slash < 0 ? { host: loc, prefix: '' } : { host: loc.slice(0, slash), prefix: loc.slice(slash + 1) });
  }
  return out;
}

/** Registries a short name is looked up in, in order. */
export function searchRegistries(cfg: EngineConfig): string[] {
  return cfg.registrySearch.length ? cfg.registrySearch : [DEFAULT_DOMAIN];
}

/** Parses --creds USER[:PASSWORD]. */
export function parseCreds(s: string | undefined): { username: string; password: string } | undefined {
  if (s === undefined) return undefined;
  const i = s.indexOf(':');
  const username = i < 0 ? s : s.slice(0, i);
  if (!username) throw invalidArgument('--creds must be USERNAME[:PASSWORD]');
  return { username, password: i < 0 ? '' : s.slice(i + 1) };
}
