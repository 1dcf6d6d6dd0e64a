// Engine configuration: built-in defaults < TOML file < BERTH_* environment < flags.
import { requireNative } from '../sys/native.js';
import fs from 'node:fs';
import path from 'node:path';
import { BerthError } from './errors.js';
import { isLevel } from '../sys/log.js';

export interface EngineConfig {
  root: string;              // persistent state: database, blobs, layers, containers
  runroot: string;           // runtime state: runc root, exit files, locks (tmpfs)
  logLevel: string;
  configFile?: string;       // the TOML file actually read, if any
  runtimePath: string;       // OCI runtime binary (runc)
  conmonPath: string;        // container monitor binary
  initPath: string;          // the `--init` binary bind-mounted into containers
  cgroupParent: string;      // absolute cgroup parent of all containers
  defaultUlimits: string[];  // e.g. nofile=1024:1048576; clamped to the host's hard limits
  pidsLimit: number;         // default pids limit (0 = unlimited)
  defaultNetwork: string;    // network mode when --network is not given: bridge (the default network), none, host
  shmSize: number;           // bytes
  defaultSubnet: string;     // the default network's subnet (its name is "berth")
  bridgePrefix: string;      // bridge interfaces: <prefix>0 for the default network, <prefix>1… for others
  subnetPool: string;        // where `network create` without --subnet takes a /24 from
  nftTable: string;          // Berth's own nftables table (family ip)
  // registries (feature: registry; like Podman's registries.conf)
  registrySearch: string[];     // registries tried for short names, in order
  registryInsecure: string[];   // hosts reached without TLS verification (plain HTTP allowed)
  registryMirrors: string[];    // "docker.io=mirror.example:5000[/prefix]", tried before the registry on pull
  certsDir: string;             // per-registry CAs: <certsDir>/<host:port>/ca.crt (Docker's certs.d layout)
  parallelDownloads: number;    // layers downloaded at once
}

export interface ConfigOverrides {
  root?: string; runroot?: string; logLevel?: string; config?: string; cgroupParent?: string;
}

export const DEFAULT_CONFIG_FILE = '/etc/berth/berth.toml';

/**
 * A per-user directory in /tmp (rootless without XDG_RUNTIME_DIR): created 0700,
 * or refused when someone else made it first (it would hold our locks and bundles).
 */
function privateTmpDir(dir: string): string {
  try { fs.mkdirSync(dir, { mode: 0o700 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) {
    throw new BerthError('invalid-argument', `${dir} is not a private directory of this user: set XDG_RUNTIME_DIR, or remove ${dir}`);
  }
  return dir;
}

function defaults(): EngineConfig {
  const rootless = process.getuid?.() !== 0;
  const dataHome = process.env.XDG_DATA_HOME || path.join(process.env.HOME ?? '/tmp', '.local/share');
  const runtimeDir = process.env.XDG_RUNTIME_DIR || (rootless ? privateTmpDir(`/tmp/berth-run-${process.getuid?.()}`) : '/run');
  return {
    root: rootless ? path.join(dataHome, 'berth') : '/var/lib/berth',
    runroot: rootless ? path.join(runtimeDir, 'berth') : '/run/berth',
    logLevel: 'warn',
    runtimePath: findProgram(['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc']),
    conmonPath: findProgram(['/usr/bin/conmon', '/usr/libexec/podman/conmon', '/usr/local/bin/conmon']),
    initPath: findProgram(['/usr/bin/catatonit', '/usr/libexec/podman/catatonit', '/usr/bin/tini-static', '/usr/bin/tini']),
    cgroupParent: '/berth',
    defaultUlimits: ['nofile=1048576:1048576', 'nproc=1048576:1048576'],
    pidsLimit: 2048,
    defaultNetwork: 'bridge',
    shmSize: 64 * 1024 * 1024,
    // Not Podman's 10.88.0.0/16, nor the usual Docker or LXD ranges.
    defaultSubnet: '10.90.0.0/16',
    bridgePrefix: 'berth',
    subnetPool: '10.91.0.0/16',
    nftTable: 'berth',
    registrySearch: ['docker.io'],
    registryInsecure: [],
    registryMirrors: [],
    certsDir: '/etc/berth/certs.d',
    parallelDownloads: 3,
  };
}

function findProgram(candidates: string[]): string {
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0]!;
}

// TOML keys (containers.conf style) → config fields.
const TOML_KEYS: Record<string, keyof EngineConfig> = {
  'root': 'root', 'runroot': 'runroot', 'log_level': 'logLevel',
  'engine.runtime_path': 'runtimePath', 'engine.conmon_path': 'conmonPath', 'engine.init_path': 'initPath',
  'engine.cgroup_parent': 'cgroupParent',
  'containers.default_ulimits': 'defaultUlimits', 'containers.pids_limit': 'pidsLimit',
  'containers.shm_size': 'shmSize', 'network.default_network': 'defaultNetwork',
  'network.default_subnet': 'defaultSubnet', 'network.bridge_prefix': 'bridgePrefix', 'network.subnet_pool': 'subnetPool',
  'network.nft_table': 'nftTable',
  'registries.search': 'registrySearch', 'registries.insecure': 'registryInsecure', 'registries.mirrors': 'registryMirrors',
  'registries.certs_dir': 'certsDir', 'registries.parallel_downloads': 'parallelDownloads',
};

export function loadConfig(over: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): EngineConfig {
  const cfg = defaults();
  // BERTH_CONFIG="" means: no config file at all (tests use it to ignore the host's).
  const file = over.config ?? env.BERTH_CONFIG ?? DEFAULT_CONFIG_FILE;
  let text: string | undefined;
  if (file) {
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if (over.config || env.BERTH_CONFIG) throw new BerthError('invalid-argument', `cannot read config file ${file}: ${(e as Error).message}`);
    }
  }
  if (text !== undefined) {
    applyToml(cfg, text, file);
    cfg.configFile = file;
  }
  const fromEnv: [string, keyof EngineConfig][] = [
    ['BERTH_ROOT', 'root'], ['BERTH_RUNROOT', 'runroot'], ['BERTH_LOG_LEVEL', 'logLevel'], ['BERTH_CGROUP_PARENT', 'cgroupParent'],
    ['BERTH_CERTS_DIR', 'certsDir'],
  ];
  for (const [k, field] of fromEnv) if (env[k]) (cfg as unknown as Record<string, unknown>)[field] = env[k];
  if (over.root) cfg.root = over.root;
  if (over.runroot) cfg.runroot = over.runroot;
  if (over.logLevel) cfg.logLevel = over.logLevel;
  if (over.cgroupParent) cfg.cgroupParent = over.cgroupParent;
  cfg.root = path.resolve(cfg.root);
  cfg.runroot = path.resolve(cfg.runroot);
  if (!/^[a-zA-Z][a-zA-Z0-9]{0,9}$/.test(cfg.bridgePrefix)) throw new BerthError('invalid-argument', `network.bridge_prefix "${cfg.bridgePrefix}" must be 1-10 letters or digits`);
  if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,31}$/.test(cfg.nftTable)) throw new BerthError('invalid-argument', `network.nft_table "${cfg.nftTable}" must be a simple identifier`);
  if (!cfg.cgroupParent.startsWith('/')) throw new BerthError('invalid-argument', `cgroup parent "${cfg.cgroupParent}" must be an absolute path such as /berth`);
  checkCgroupParent(cfg.cgroupParent);
  if (!isLevel(cfg.logLevel)) throw new BerthError('invalid-argument', `invalid log level "${cfg.logLevel}": use debug, info, warn or error`);
  return cfg;
}

/**
 * A container's own `--cgroup-parent`: an absolute path as given, a relative one
 * under Berth's parent (so containers stay below it); never with `..`.
 */
export function containerCgroupParent(given: string | undefined, berthParent: string): string {
  if (!given) return berthParent;
  const abs = given.startsWith('/') ? given : `${berthParent.replace(/\/$/, '')}/${given}`;
  checkCgroupParent(abs);
  return abs;
}

function checkCgroupParent(p: string): void {
  if (p.split('/').some((seg) => seg === '..' || seg === '.') || /[\0\n]/.test(p)) {
    throw new BerthError('invalid-argument', `cgroup parent "${p}" must not contain "." or ".." components: give a path such as /berth/team`);
  }
}

function applyToml(cfg: EngineConfig, text: string, file: string): void {
  const { parse } = requireNative<{ parse(s: string): Record<string, unknown> }>('smol-toml');
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (e) {
    throw new BerthError('invalid-argument', `config file ${file} is not valid TOML: ${(e as Error).message.split('\n')[0]}`);
  }
  const flat = flatten(doc);
  for (const [key, value] of Object.entries(flat)) {
    const field = TOML_KEYS[key];
    if (!field) throw new BerthError('invalid-argument', `config file ${file}: unknown key "${key}" (known: ${Object.keys(TOML_KEYS).join(', ')})`);
    const expected = typeof cfg[field];
    const ok = expected === 'object' ? Array.isArray(value) : typeof value === expected || (expected === 'number' && typeof value === 'bigint');
    if (!ok) throw new BerthError('invalid-argument', `config file ${file}: "${key}" must be ${expected === 'object' ? 'an array of strings' : 'a ' + expected}`);
    (cfg as unknown as Record<string, unknown>)[field] = typeof value === 'bigint' ? Number(value) : value;
  }
}

function flatten(obj: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, key + '.'));
    else out[key] = v;
  }
  return out;
}

/** Where things live under the roots. */
export class Paths {
  constructor(readonly cfg: EngineConfig) {}
  get db() { return path.join(this.cfg.root, 'berth.db'); }
  get blobs() { return path.join(this.cfg.root, 'blobs', 'sha256'); }
  get ingest() { return path.join(this.cfg.root, 'ingest'); }
  get layers() { return path.join(this.cfg.root, 'layers'); }
  layer(chainId: string) { return path.join(this.cfg.root, 'layers', chainId); }
  container(id: string) { return path.join(this.cfg.root, 'containers', id); }
  /** A volume's directory; its content is in _data (local driver). */
  volume(name: string) { return path.join(this.cfg.root, 'volumes', name); }
  get runcRoot() { return path.join(this.cfg.runroot, 'runc'); }
  get exits() { return path.join(this.cfg.runroot, 'exits'); }
  get locks() { return path.join(this.cfg.runroot, 'locks'); }
  /** Runtime bundle: config.json, attach socket, ctl fifo, pidfiles, hosts/resolv.conf. */
  bundle(id: string) { return path.join(this.cfg.runroot, 'containers', id); }
  containerLock(id: string) { return path.join(this.cfg.runroot, 'locks', id); }
}
