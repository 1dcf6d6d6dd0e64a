// `--change` instructions (Dockerfile syntax, or Podman's INSTRUCTION=value)
// applied to an image config by `import` and `commit`.
import { invalidArgument } from '../engine/errors.js';
import type { ImageRunConfig } from './types.js';

const SUPPORTED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL', 'ONBUILD'];

export function applyChanges(config: ImageRunConfig, changes: string[]): ImageRunConfig {
  const out: ImageRunConfig = { ...config };
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)(?:\s+|=)([\s\S]*)$/.exec(change);
    if (!m) throw invalidArgument(`invalid --change "${change}": expected INSTRUCTION VALUE, e.g. "CMD [\\"sh\\"]"`);
    const instr = m[1]!.toUpperCase();
    const value = m[2]!.trim();
    switch (instr) {
      case 'CMD': out.Cmd = commandForm(value); break;
      case 'ENTRYPOINT': out.Entrypoint = commandForm(value); break;
      case 'ENV': out.Env = mergeEnv(out.Env ?? [], keyValues(value, change).map(([k, v]) => `${k}=${v}`)); break;
      case 'LABEL': out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(keyValues(value, change)) }; break;
      case 'USER': out.User = value; break;
      case 'WORKDIR': out.WorkingDir = value; break;
      case 'STOPSIGNAL': out.StopSignal = value; break;
      case 'EXPOSE': {
        out.ExposedPorts = { ...(out.ExposedPorts ?? {}) };
        for (const p of value.split(/\s+/).filter(Boolean)) {
          if (!/^\d{1,5}(-\d{1,5})?(\/(tcp|udp|sctp))?$/.test(p)) throw invalidArgument(`invalid EXPOSE port "${p}" in --change`);
          out.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        }
        break;
      }
      case 'VOLUME': {
        out.Volumes = { ...(out.Volumes ?? {}) };
        const vols = value.startsWith('[') ? jsonArray(value, change) : value.split(/\s+/).filter(Boolean);
        for (const v of vols) out.Volumes[v] = {};
        break;
      }
      case 'ONBUILD': break;
      default:
        throw invalidArgument(`invalid --change instruction "${instr}": supported are ${SUPPORTED.join(', ')}`);
    }
  }
  return out;
}

function commandForm(value: string): string[] {
  if (value.startsWith('[')) {
    try {
      const arr = JSON.parse(value) as unknown;
      if (Array.isArray(arr) && arr.every((x) => typeof x === 'string')) return arr as string[];
    } catch { /* fall through to shell form */ }
  }
  return ['/bin/sh', '-c', value];
}

function jsonArray(value: string, change: string): string[] {
  try {
    const arr = JSON.parse(value) as unknown;
    if (Array.isArray(arr) && arr.every((x) => typeof x === 'string')) return arr as string[];
  } catch { /* reported below */ }
  throw invalidArgument(`invalid JSON array in --change "${change}"`);
}

/** `K=V K2="v 2"` or the legacy `K V` form. */
function keyValues(value: string, change: string): [string, string][] {
  if (!value.includes('=')) {
    const i = value.search(/\s/);
    if (i < 0) throw invalidArgument(`invalid --change "${change}": expected KEY=VALUE`);
    return [[value.slice(0, i), value.slice(i).trim()]];
  }
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("((?:[^"\\]|\\.)*)"|'([^']*)'|(\S*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value))) out.push([m[1]!, m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4] ?? m[5] ?? '']);
  if (!out.length) throw invalidArgument(`invalid --change "${change}": expected KEY=VALUE`);
  return out;
}

function mergeEnv(base: string[], add: string[]): string[] {
  const map = new Map(base.map((e) => [e.split('=')[0]!, e] as const));
  for (const e of add) map.set(e.split('=')[0]!, e);
  return [...map.values()];
}
