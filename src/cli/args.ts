// Command-line parsing with pflag's rules (as Podman and Docker use them):
// --flag=value, --flag value, -f value, -fvalue, -abc for short booleans,
// --bool=false, repeatable list flags, and `--` to end flags.
import { invalidArgument } from '../engine/errors.js';

export type FlagType = 'bool' | 'string' | 'strings' | 'int';

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  help: string;
  default?: string | number | boolean;
  /** Value names shown in help. */
  arg?: string;
  hidden?: boolean;
}

export type FlagValues = Record<string, string | string[] | number | boolean | undefined>;

export interface Parsed { flags: FlagValues; args: string[]; set: Set<string> }

export function parseArgs(argv: string[], specs: FlagSpec[], opts: { interspersed: boolean; command: string }): Parsed {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: FlagValues = {};
  const set = new Set<string>();
  for (const s of specs) if (s.default !== undefined) flags[s.name] = s.default;
  for (const s of specs) if (s.type === 'strings') flags[s.name] = [];
  const args: string[] = [];
  const see = `See 'berth ${opts.command} --help'`;

  const assign = (spec: FlagSpec, raw: string | undefined, shown: string) => {
    set.add(spec.name);
    switch (spec.type) {
      case 'bool': {
        if (raw === undefined || raw === 'true' || raw === '1') flags[spec.name] = true;
        else if (raw === 'false' || raw === '0') flags[spec.name] = false;
        else throw invalidArgument(`invalid argument "${raw}" for "${shown}" flag: expected true or false. ${see}`);
        return;
      }
      case 'int': {
        if (raw === undefined || !/^-?\d+$/.test(raw)) throw invalidArgument(`invalid argument "${raw ?? ''}" for "${shown}" flag: expected an integer. ${see}`);
        flags[spec.name] = Number(raw);
        return;
      }
      case 'strings':
        (flags[spec.name] as string[]).push(raw!);
        return;
      default:
        flags[spec.name] = raw!;
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { args.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec = byLong.get(name);
      if (!spec) throw invalidArgument(`unknown flag: --${name}. ${see}`);
      let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
      if (value === undefined && spec.type !== 'bool') {
        if (i + 1 >= argv.length) throw invalidArgument(`flag needs an argument: --${name}. ${see}`);
        value = argv[++i];
      }
      assign(spec, value, `--${name}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // A cluster of short flags; a value-taking flag consumes the rest or the next argument.
      for (let j = 1; j < a.length; j++) {
        const ch = a[j]!;
        const spec = byShort.get(ch);
        if (!spec) throw invalidArgument(`unknown shorthand flag: '${ch}' in ${a}. ${see}`);
        if (spec.type === 'bool') {
          if (a[j + 1] === '=') { assign(spec, a.slice(j + 2), `-${ch}`); break; }
          assign(spec, undefined, `-${ch}`);
          continue;
        }
        let value = a.slice(j + 1);
        if (value.startsWith('=')) value = value.slice(1);
        if (!value) {
          if (i + 1 >= argv.length) throw invalidArgument(`flag needs an argument: '${ch}' in -${ch}. ${see}`);
          value = argv[++i]!;
        }
        assign(spec, value, `-${ch}`);
        break;
      }
      continue;
    }
    args.push(a);
    if (!opts.interspersed) { args.push(...argv.slice(i + 1)); break; }
  }
  return { flags, args, set };
}

export const str = (v: FlagValues[string]): string | undefined => (typeof v === 'string' ? v : undefined);
export const list = (v: FlagValues[string]): string[] => (Array.isArray(v) ? v : []);
export const bool = (v: FlagValues[string]): boolean => v === true;
export const int = (v: FlagValues[string]): number | undefined => (typeof v === 'number' ? v : undefined);
