// Flags shared by `run` and `create`, and their translation into CreateOptions.
import fs from 'node:fs';
import type { FlagSpec, Parsed } from '../args.js';
import { str, list, bool, int } from '../args.js';
import type { CreateOptions } from '../../engine/engine.js';
import { invalidArgument } from '../../engine/errors.js';
import { parseEnv, parseEnvFile, parseKeyValues, parseSize, parseRestartPolicy } from '../../engine/parse.js';
import { parseMount } from '../../engine/parse.js';
import { RESOURCE_FLAGS, DEVICE_FLAG, resourcesFromFlags } from './resources.js';

export const CREATE_FLAGS: FlagSpec[] = [
  { name: 'name', type: 'string', help: 'Assign a name to the container', arg: 'NAME' },
  { name: 'hostname', short: 'h', type: 'string', help: 'Container host name', arg: 'NAME' },
  { name: 'env', short: 'e', type: 'strings', help: 'Set environment variables', arg: 'KEY=VALUE' },
  { name: 'env-file', type: 'strings', help: 'Read environment variables from a file', arg: 'FILE' },
  { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container', arg: 'DIR' },
  { name: 'user', short: 'u', type: 'string', help: 'User (name|uid[:group|gid])', arg: 'USER' },
  { name: 'group-add', type: 'strings', help: 'Additional groups', arg: 'GROUP' },
  { name: 'entrypoint', type: 'string', help: 'Overwrite the image ENTRYPOINT', arg: 'CMD' },
  { name: 'volume', short: 'v', type: 'strings', help: 'Bind mount a volume (SRC:DST[:ro])', arg: 'VOLUME' },
  { name: 'tmpfs', type: 'strings', help: 'Mount a tmpfs (DST[:OPTIONS])', arg: 'TMPFS' },
  { name: 'mount', type: 'strings', help: 'Attach a mount: type=bind|volume|tmpfs,source=…,target=…[,readonly]', arg: 'MOUNT' },
  { name: 'volumes-from', type: 'strings', help: 'Mount the volumes of another container (CONTAINER[:ro|rw])', arg: 'CONTAINER' },
  { name: 'read-only', type: 'bool', help: 'Mount the root filesystem read-only' },
  { name: 'read-only-tmpfs', type: 'bool', default: true, help: 'With --read-only, mount tmpfs on /run, /tmp and /var/tmp' },
  { name: 'network', type: 'strings', help: 'Network: bridge (default), NAME, none, host, container:ID (repeatable)', arg: 'NETWORK' },
  { name: 'net', type: 'strings', help: 'Alias of --network', arg: 'NETWORK', hidden: true },
  { name: 'ip', type: 'string', help: 'IPv4 address on the (first) network', arg: 'IP' },
  { name: 'mac-address', type: 'string', help: 'MAC address on the (first) network', arg: 'MAC' },
  { name: 'network-alias', type: 'strings', help: 'Additional DNS names on the networks', arg: 'ALIAS' },
  { name: 'publish', short: 'p', type: 'strings', help: 'Publish a port: [ip:][hostPort:]containerPort[/tcp|udp]', arg: 'PORT' },
  { name: 'publish-all', short: 'P', type: 'bool', help: 'Publish every exposed port on a free host port' },
  { name: 'expose', type: 'strings', help: 'Expose a port (for -P)', arg: 'PORT' },
  { name: 'dns', type: 'strings', help: 'DNS servers for the container', arg: 'IP' },
  { name: 'dns-search', type: 'strings', help: 'DNS search domains', arg: 'DOMAIN' },
  { name: 'dns-option', type: 'strings', help: 'DNS resolver options', arg: 'OPTION' },
  { name: 'add-host', type: 'strings', help: 'Add a line to /etc/hosts (NAME:IP or NAME:host-gateway)', arg: 'HOST:IP' },
  { name: 'init', type: 'bool', help: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'privileged', type: 'bool', help: 'Give extended privileges to the container' },
  { name: 'cap-add', type: 'strings', help: 'Add Linux capabilities', arg: 'CAP' },
  { name: 'cap-drop', type: 'strings', help: 'Drop Linux capabilities', arg: 'CAP' },
  { name: 'security-opt', type: 'strings', help: 'Security options (no-new-privileges, seccomp=unconfined|FILE)', arg: 'OPT' },
  { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
  { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open' },
  { name: 'rm', type: 'bool', help: 'Remove the container when it exits' },
  { name: 'label', short: 'l', type: 'strings', help: 'Set metadata labels', arg: 'KEY=VALUE' },
  { name: 'annotation', type: 'strings', help: 'Add an OCI annotation', arg: 'KEY=VALUE' },
  { name: 'stop-signal', type: 'string', help: 'Signal to stop the container', arg: 'SIGNAL' },
  { name: 'stop-timeout', type: 'int', help: 'Seconds to wait before killing the container on stop', arg: 'SECONDS' },
  { name: 'ulimit', type: 'strings', help: 'Ulimit options (name=soft[:hard])', arg: 'ULIMIT' },
  { name: 'sysctl', type: 'strings', help: 'Namespaced kernel parameters', arg: 'KEY=VALUE' },
  { name: 'shm-size', type: 'string', help: 'Size of /dev/shm', arg: 'SIZE' },
  ...RESOURCE_FLAGS,
  DEVICE_FLAG,
  { name: 'cgroup-parent', type: 'string', help: 'Cgroup parent for the container', arg: 'PATH' },
  { name: 'log-driver', type: 'string', help: 'Logging driver: k8s-file, json-file or none', arg: 'DRIVER' },
  { name: 'log-opt', type: 'strings', help: 'Logging driver options', arg: 'KEY=VALUE' },
  { name: 'restart', type: 'string', help: 'Restart policy: no, on-failure[:N], always, unless-stopped', arg: 'POLICY' },
  { name: 'cidfile', type: 'string', help: 'Write the container ID to this file', arg: 'FILE' },
  { name: 'health-cmd', type: 'string', help: 'Command to check health (a shell command, a JSON array, or "none")', arg: 'CMD' },
  { name: 'health-interval', type: 'string', help: 'Time between health checks (e.g. 30s)', arg: 'DURATION' },
  { name: 'health-timeout', type: 'string', help: 'Maximum time a health check may take', arg: 'DURATION' },
  { name: 'health-retries', type: 'int', help: 'Consecutive failures needed to report unhealthy', arg: 'N' },
  { name: 'health-start-period', type: 'string', help: 'Initialization time during which failures do not count', arg: 'DURATION' },
  { name: 'health-on-failure', type: 'string', help: 'Action when unhealthy: none, kill, restart, stop', arg: 'ACTION' },
  { name: 'no-healthcheck', type: 'bool', help: 'Disable any health check of the image' },
  { name: 'pull', type: 'string', help: 'Pull the image: missing (default), always, never, newer', arg: 'POLICY' },
  { name: 'platform', type: 'string', help: 'Platform of the image to pull (OS/ARCH[/VARIANT])', arg: 'PLATFORM' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'Print no progress when pulling the image' },
];

export function toCreateOptions(p: Parsed, image: string, cmd: string[]): CreateOptions {
  const f = p.flags;
  const envFiles = list(f['env-file']).flatMap((file) => {
    let text: string;
    try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw invalidArgument(`cannot read env file ${file}: ${(e as Error).message}`); }
    return parseEnvFile(text, file);
  });
  const o: CreateOptions = {
    image,
    cmd: cmd.length ? cmd : undefined,
    env: [...parseEnv(envFiles), ...parseEnv(list(f.env))],
    volumes: list(f.volume),
    tmpfs: list(f.tmpfs),
    mounts: list(f.mount).map(parseMount),
    volumesFrom: list(f['volumes-from']),
    readOnly: bool(f['read-only']),
    readOnlyTmpfs: f['read-only-tmpfs'] !== false,
    init: bool(f.init),
    privileged: bool(f.privileged),
    capAdd: list(f['cap-add']),
    capDrop: list(f['cap-drop']),
    securityOpt: list(f['security-opt']),
    tty: bool(f.tty),
    openStdin: bool(f.interactive),
    autoRemove: bool(f.rm),
    labels: parseKeyValues(list(f.label), 'label'),
    annotations: parseKeyValues(list(f.annotation), 'annotation'),
    ulimits: list(f.ulimit),
    sysctls: parseKeyValues(list(f.sysctl), 'sysctl'),
    groupAdd: list(f['group-add']),
    logOpts: parseKeyValues(list(f['log-opt']), 'log option'),
  };
  const s = (k: string) => str(f[k]);
  if (s('name') !== undefined) o.name = s('name');
  if (s('hostname')) o.hostname = s('hostname');
  if (s('workdir')) o.workingDir = s('workdir');
  if (s('user') !== undefined) o.user = s('user');
  if (p.set.has('entrypoint')) o.entrypoint = entrypointArgs(s('entrypoint') ?? '');
  o.networks = [...list(f.network), ...list(f.net)];
  if (s('ip')) o.ip = s('ip');
  if (s('mac-address')) o.mac = s('mac-address');
  o.aliases = list(f['network-alias']);
  o.publish = list(f.publish);
  o.publishAll = bool(f['publish-all']);
  o.expose = list(f.expose);
  o.dns = list(f.dns);
  o.dnsSearch = list(f['dns-search']);
  o.dnsOptions = list(f['dns-option']);
  o.addHosts = list(f['add-host']);
  if (s('stop-signal')) o.stopSignal = s('stop-signal');
  if (s('restart')) o.restartPolicy = parseRestartPolicy(s('restart')!);
  o.health = {
    cmd: s('health-cmd'), interval: s('health-interval'), timeout: s('health-timeout'), startPeriod: s('health-start-period'),
    retries: int(f['health-retries']), onFailure: s('health-on-failure'), none: bool(f['no-healthcheck']),
  };
  if (int(f['stop-timeout']) !== undefined) o.stopTimeout = int(f['stop-timeout']);
  if (s('shm-size')) o.shmSize = parseSize(s('shm-size')!, 'shm size');
  if (s('cgroup-parent')) o.cgroupParent = s('cgroup-parent');
  if (s('log-driver')) {
    const d = s('log-driver')!;
    if (!['k8s-file', 'json-file', 'none'].includes(d)) throw invalidArgument(`invalid log driver "${d}": use k8s-file, json-file or none`);
    o.logDriver = d;
  }
  o.resources = resourcesFromFlags(p);
  o.devices = list(f.device);
  const pull = s('pull');
  if (pull && !['never', 'missing', 'always', 'newer'].includes(pull)) throw invalidArgument(`invalid pull policy "${pull}": use always, missing, never or newer`);
  if (pull) o.pull = pull as CreateOptions['pull'];
  if (s('platform')) o.platform = s('platform');
  return o;
}

/** Docker treats --entrypoint as one word; a JSON array is accepted too, like Podman. */
function entrypointArgs(v: string): string[] {
  if (v === '') return [];
  if (v.startsWith('[')) {
    try {
      const a = JSON.parse(v) as unknown;
      if (Array.isArray(a) && a.every((x) => typeof x === 'string')) return a as string[];
    } catch { /* a plain string */ }
  }
  return [v];
}
