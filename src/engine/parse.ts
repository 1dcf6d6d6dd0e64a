// Parsers for the Docker/Podman option syntaxes shared by the CLI and the API
// (-v, --tmpfs, -e, --security-opt, sizes, durations, signals).
import path from 'node:path';
import { invalidArgument } from './errors.js';
import type { MountSpec, RestartPolicy } from './container-types.js';

const BIND_OPTS = new Set(['ro', 'rw', 'z', 'Z', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'bind', 'rbind',
  'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'U', 'O', 'copy', 'nocopy']);

/** `-v SRC:DST[:OPTS]` or `-v DST` (anonymous volume). Named volumes are `NAME:DST`. */
export function parseVolume(spec: string): MountSpec {
  const parts = spec.split(':');
  if (parts.some((p, i) => p === '' && i < 2) || parts.length > 3) {
    throw invalidArgument(`invalid volume "${spec}": expected [SOURCE:]DESTINATION[:OPTIONS], e.g. /srv/data:/data:ro`);
  }
  if (parts.length === 1) return { type: 'volume', source: '', destination: checkDest(parts[0]!, spec), options: [] };
  const [src, dst, opts = ''] = parts as [string, string, string?];
  const options = opts ? opts.split(',') : [];
  for (const o of options) {
    if (!BIND_OPTS.has(o)) throw invalidArgument(`invalid volume option "${o}" in "${spec}": use ro, rw, z, Z, shared, slave, private, nosuid, nodev, noexec`);
  }
  if (options.includes('ro') && options.includes('rw')) throw invalidArgument(`volume "${spec}" cannot be both ro and rw`);
  const isPath = src.startsWith('/') || src.startsWith('.');
  if (!isPath && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(src)) {
    throw invalidArgument(`invalid volume source "${src}": use an absolute host path or a volume name`);
  }
  return {
    type: isPath ? 'bind' : 'volume',
    source: isPath ? path.resolve(src) : src,
    destination: checkDest(dst, spec),
    options: options.filter((o) => o !== 'z' && o !== 'Z'),
  };
}

function checkDest(dst: string, spec: string): string {
  if (!dst.startsWith('/')) throw invalidArgument(`invalid volume "${spec}": the container path "${dst}" must be absolute`);
  return path.posix.normalize(dst);
}

/** `--tmpfs DST[:OPTS]`. */
export function parseTmpfs(spec: string): MountSpec {
  const i = spec.indexOf(':');
  const dst = i >= 0 ? spec.slice(0, i) : spec;
  const opts = i >= 0 ? spec.slice(i + 1).split(',').filter(Boolean) : [];
  if (!dst.startsWith('/')) throw invalidArgument(`invalid tmpfs "${spec}": the container path must be absolute`);
  for (const o of opts) {
    if (!/^(ro|rw|nosuid|suid|nodev|dev|noexec|exec|size=\d+[kmgKMG]?|mode=[0-7]{3,4}|uid=\d+|gid=\d+|nr_inodes=\d+[kmgKMG]?|tmpcopyup|notmpcopyup)$/.test(o)) {
      throw invalidArgument(`invalid tmpfs option "${o}" in "${spec}": use size=, mode=, uid=, gid=, ro, noexec, nosuid, nodev`);
    }
  }
  return { type: 'tmpfs', source: '', destination: path.posix.normalize(dst), options: opts.filter((o) => !o.includes('tmpcopyup')) };
}

// ----- --mount (feature: volumes) -----

const PROPAGATIONS = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];
const MOUNT_USAGE = 'expected type=bind|volume|tmpfs,source=…,target=…[,readonly], e.g. type=volume,source=data,target=/data';

/** `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,volume-opt=K=V][,tmpfs-size=…]…` (CSV, as Docker). */
export function parseMount(spec: string): MountSpec {
  let type = 'volume', source = '', target = '', readonly = false;
  const options: string[] = [];
  const volOptions: Record<string, string> = {}, volLabels: Record<string, string> = {};
  const typed: string[] = []; // type-specific keys given, checked against the type below
  const bad = (why: string) => invalidArgument(`invalid --mount "${spec}": ${why}`);
  for (const field of splitCsv(spec)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const val = eq < 0 ? undefined : field.slice(eq + 1);
    const need = () => { if (!val) throw bad(`"${key}" needs a value`); return val; };
    const flag = () => {
      if (val === undefined || /^(true|1)$/i.test(val)) return true;
      if (/^(false|0)$/i.test(val)) return false;
      throw bad(`"${key}" must be true or false`);
    };
    const pair = (into: Record<string, string>) => {
      const v = need(), i = v.indexOf('=');
      if (i <= 0) throw bad(`"${key}" expects KEY=VALUE`);
      into[v.slice(0, i)] = v.slice(i + 1);
    };
    if (/^(bind|volume|tmpfs)-/.test(key)) typed.push(key);
    switch (key) {
      case 'type': type = need(); break;
      case 'source': case 'src': source = need(); break;
      case 'target': case 'destination': case 'dst': target = need(); break;
      case 'readonly': case 'ro': readonly = flag(); break;
      case 'bind-propagation':
        if (!PROPAGATIONS.includes(need())) throw bad(`bind-propagation must be one of ${PROPAGATIONS.join(', ')}`);
        options.push(val!);
        break;
      case 'bind-nonrecursive': if (flag()) options.push('bind'); break;
      case 'volume-opt': pair(volOptions); break;
      case 'volume-label': pair(volLabels); break;
      case 'volume-nocopy': if (flag()) options.push('nocopy'); break;
      case 'volume-driver': if (need() !== 'local') throw bad(`volume driver "${val}" is not available: use local`); break;
      case 'tmpfs-size': options.push(`size=${parseSize(need(), 'tmpfs-size')}`); break;
      case 'tmpfs-mode':
        if (!/^[0-7]{1,4}$/.test(need())) throw bad(`tmpfs-mode must be an octal mode such as 1777`);
        options.push(`mode=${val}`);
        break;
      case 'consistency': case 'relabel': break; // macOS and SELinux hints: nothing to do here
      default: throw bad(`unknown option "${key}"; ${MOUNT_USAGE}`);
    }
  }
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw bad(`mount type "${type}" is not supported: use bind, volume or tmpfs`);
  const wrong = typed.find((k) => !k.startsWith(`${type}-`));
  if (wrong) throw bad(`"${wrong}" cannot be used with type=${type}`);
  if (!target) throw bad(`target is required; ${MOUNT_USAGE}`);
  if (!target.startsWith('/')) throw bad(`the target "${target}" must be an absolute path`);
  if (readonly) options.push('ro');
  const destination = path.posix.resolve('/', target);
  if (type === 'tmpfs') {
    if (source) throw bad('a tmpfs mount has no source');
    return { type, source: '', destination, options };
  }
  if (type === 'bind') {
    if (!source) throw bad('a bind mount needs a source (an absolute host path)');
    if (!source.startsWith('/') && !source.startsWith('.')) throw bad(`the bind source "${source}" must be an absolute path`);
    return { type, source: path.resolve(source), destination, options };
  }
  if (source && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source)) throw bad(`invalid volume name "${source}": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
  const m: MountSpec = { type, source, destination, options };
  if (Object.keys(volOptions).length || Object.keys(volLabels).length) m.volumeCreate = { anonymous: !source, labels: volLabels, options: volOptions };
  return m;
}

/** Splits one CSV record: commas separate fields, double quotes protect them ("" is a quote). */
function splitCsv(s: string): string[] {
  const out: string[] = [];
  let cur = '', quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { out.push(cur); cur = ''; }
    else cur += ch;
  }
  if (quoted) throw invalidArgument(`invalid --mount "${s}": unterminated quote`);
  out.push(cur);
  return out.filter((f) => f.trim() !== '');
}

/** `KEY=VALUE` sets; a bare `KEY` copies the variable from `from` (skipped when unset). */
export function parseEnv(list: string[], from: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  for (const e of list) {
    const i = e.indexOf('=');
    if (i === 0) throw invalidArgument(`invalid environment variable "${e}": the name must not be empty`);
    if (i < 0) {
      if (e.endsWith('*')) {
        const prefix = e.slice(0, -1);
        for (const [k, v] of Object.entries(from)) if (k.startsWith(prefix) && v !== undefined) out.push(`${k}=${v}`);
      } else if (from[e] !== undefined) out.push(`${e}=${from[e]}`);
    } else out.push(e);
  }
  return out;
}

/** Lines of an --env-file: KEY=VALUE or KEY, blank lines and # comments ignored. */
export function parseEnvFile(text: string, file: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((raw, n) => {
    const line = raw.replace(/\r$/, '').trimStart();
    if (!line || line.startsWith('#')) return;
    if (line.startsWith('=')) throw invalidArgument(`invalid line ${n + 1} in env file ${file}: variable name is missing`);
    out.push(line);
  });
  return out;
}

/** Merges env lists; later entries override earlier ones with the same key. */
export function mergeEnv(...lists: string[][]): string[] {
  const map = new Map<string, string>();
  for (const list of lists) {
    for (const e of list) {
      const i = e.indexOf('=');
      map.set(i < 0 ? e : e.slice(0, i), e);
    }
  }
  return [...map.values()];
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Sizes like 512, 64k, 100m, 1.5g (binary units, as Docker). */
export function parseSize(s: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(s.trim());
  if (!m) throw invalidArgument(`invalid ${what} "${s}": use a number with an optional unit b, k, m, g (e.g. 512m)`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

/** Go-style durations: 1h30m, 10s, 500ms, 2m; a bare number means seconds. */
export function parseDuration(s: string, what = 'duration'): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const scale: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0, consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * scale[m[2]!]!;
    consumed += m[0].length;
  }
  if (!s || consumed !== s.length) throw invalidArgument(`invalid ${what} "${s}": use e.g. 30s, 5m, 1h30m`);
  return total;
}

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** Signal by name (TERM, SIGTERM, RTMIN+3) or number; returns the number. */
export function parseSignal(s: string): number {
  const up = s.trim().toUpperCase().replace(/^SIG/, '');
  if (/^\d+$/.test(up)) {
    const n = Number(up);
    if (n >= 1 && n <= 64) return n;
  } else if (SIGNALS[up] !== undefined) return SIGNALS[up]!;
  else {
    const rt = /^RTMIN(?:\+(\d+))?$/.exec(up) ?? /^RTMAX(?:-(\d+))?$/.exec(up);
    if (rt) {
      const n = up.startsWith('RTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
      if (n >= 34 && n <= 64) return n;
    }
  }
  throw invalidArgument(`invalid signal "${s}": use a name such as SIGTERM or KILL, or a number from 1 to 64`);
}

export function signalName(n: number): string {
  const name = Object.entries(SIGNALS).find(([, v]) => v === n)?.[0];
  return name ? `SIG${name}` : String(n);
}

/** `--security-opt` values Berth understands. */
export function parseSecurityOpts(opts: string[]): { noNewPrivileges: boolean; seccompProfile: string } {
  let noNewPrivileges = false, seccompProfile = '';
  for (const o of opts) {
    if (o === 'no-new-privileges' || o === 'no-new-privileges:true' || o === 'no-new-privileges=true') noNewPrivileges = true;
    else if (o === 'no-new-privileges:false' || o === 'no-new-privileges=false') noNewPrivileges = false;
    else if (/^seccomp[=:]/.test(o)) seccompProfile = o.slice(8);
    else if (/^(label|apparmor)[=:]/.test(o)) { /* no SELinux or AppArmor on this engine: accepted and ignored */ }
    else throw invalidArgument(`invalid --security-opt "${o}": use no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json`);
  }
  return { noNewPrivileges, seccompProfile };
}

/** `key=value` list to a record (labels, annotations, sysctls). */
export function parseKeyValues(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i === 0) throw invalidArgument(`invalid ${what} "${kv}": expected key=value`);
    if (i < 0) out[kv] = '';
    else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** `--restart no|on-failure[:N]|always|unless-stopped`. */
export function parseRestartPolicy(s: string): RestartPolicy {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(s);
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) {
    throw invalidArgument(`invalid restart policy "${s}": use no, on-failure[:MAX-RETRIES], always or unless-stopped`);
  }
  return { name: m[1] as RestartPolicy['name'], maximumRetryCount: m[2] ? Number(m[2]) : 0 };
}

// ----- log times (container logs feature) -----

const TIME_RE = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?(Z|[+-]\d\d:?\d\d)?$/i;

/** An RFC 3339 time (or a date; without a zone it is local time, as in Docker) in nanoseconds since the epoch. */
export function timestampNs(s: string): bigint | undefined {
  const m = TIME_RE.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  let ms: number;
  if (zone) {
    ms = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +sec);
    if (zone.toUpperCase() !== 'Z') {
      const z = zone.slice(1).replace(':', '');
      ms -= (zone[0] === '-' ? -1 : 1) * (Number(z.slice(0, 2)) * 60 + Number(z.slice(2))) * 60_000;
    }
  } else ms = new Date(+y!, +mo! - 1, +d!, +h, +mi, +sec).getTime();
  if (!Number.isFinite(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
}

/** `--since`/`--until`: RFC 3339, Unix seconds (fractional too) or a Go duration before `nowNs`; in nanoseconds. */
export function parseTimestamp(s: string, what: string, nowNs: bigint = BigInt(Date.now()) * 1_000_000n): bigint {
  const t = s.trim();
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(t);
  if (unix) return BigInt(unix[1]!) * 1_000_000_000n + BigInt((unix[2] ?? '').padEnd(9, '0'));
  const abs = timestampNs(t);
  if (abs !== undefined) return abs;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(t)) return nowNs - BigInt(Math.round(parseDuration(t) * 1e6));
  throw invalidArgument(`invalid ${what} "${s}": use an RFC 3339 time (2026-01-02T15:04:05Z), Unix seconds (1767366245.5) or a duration before now (10m, 1h30m)`);
}
