// `berth volume …`: create, ls, inspect, rm, prune, exists (Podman's verbs and flags).
import type { Command, CliContext } from '../command.js';
import { FORMAT_FLAG } from '../command.js';
import { bool, list, str } from '../args.js';
import { renderList } from '../../format/output.js';
import { invalidArgument, isBerthError } from '../../engine/errors.js';
import { parseKeyValues } from '../../engine/parse.js';
import { printInspect } from './containers.js';

const HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME', Driver: 'DRIVER', Mountpoint: 'MOUNTPOINT', CreatedAt: 'CREATED', Labels: 'LABELS', Scope: 'SCOPE', Options: 'OPTIONS',
};

/** `--opt K=V` values: every one needs a key (an empty value is checked by the driver). */
function driverOptions(opts: string[]): Record<string, string> {
  for (const o of opts) {
    if (!o.includes('=') || o.startsWith('=')) throw invalidArgument(`invalid volume option "${o}": expected KEY=VALUE, e.g. --opt type=tmpfs`);
  }
  return parseKeyValues(opts, 'volume option');
}

const createCommand: Command = {
  name: 'create',
  usage: '[options] [NAME]',
  summary: 'Create a volume',
  flags: [
    { name: 'driver', short: 'd', type: 'string', default: 'local', help: 'Volume driver (local)', arg: 'DRIVER' },
    { name: 'label', short: 'l', type: 'strings', help: 'Set metadata for a volume', arg: 'KEY=VALUE' },
    { name: 'opt', short: 'o', type: 'strings', help: 'Driver options: type=…, device=…, o=… (mount(8) on use)', arg: 'KEY=VALUE' },
    { name: 'ignore', type: 'bool', help: 'Do not fail if the volume already exists' },
  ],
  maxArgs: 1,
  run(ctx, p) {
    const v = ctx.engine().createVolume({
      name: p.args[0], driver: str(p.flags.driver), labels: parseKeyValues(list(p.flags.label), 'label'),
      options: driverOptions(list(p.flags.opt)), ignoreIfExists: bool(p.flags.ignore),
    });
    ctx.out(`${String(v.Name)}\n`);
    return 0;
  },
};

const lsCommand: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[options]',
  summary: 'List volumes',
  flags: [
    { name: 'filter', short: 'f', type: 'strings', help: 'Filter: name, label, label!, driver, dangling, opt, scope, until, anonymous', arg: 'KEY=VALUE' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Print only volume names' },
    { name: 'noheading', short: 'n', type: 'bool', help: 'Do not print headers' },
    { ...FORMAT_FLAG, short: undefined },
  ],
  maxArgs: 0,
  run(ctx, p) {
    const rows = ctx.engine().listVolumes(list(p.flags.filter));
    if (bool(p.flags.quiet)) {
      ctx.out(rows.map((r) => `${String(r.Name)}\n`).join(''));
      return 0;
    }
    const format = str(p.flags.format) ?? (bool(p.flags.noheading) ? '{{.Driver}}\t{{.Name}}' : undefined);
    ctx.out(renderList(format, rows, { headers: HEADERS, defaultFormat: 'table {{.Driver}}\t{{.Name}}' }));
    return 0;
  },
};

const inspectCommand: Command = {
  name: 'inspect',
  usage: '[options] VOLUME [VOLUME...]',
  summary: 'Display detailed information on volumes',
  flags: [FORMAT_FLAG, { name: 'all', short: 'a', type: 'bool', help: 'Inspect all volumes' }],
  run(ctx, p) {
    const engine = ctx.engine();
    const names = bool(p.flags.all) ? engine.listVolumes().map((r) => String(r.Name)) : p.args;
    if (!names.length && !bool(p.flags.all)) throw invalidArgument('"berth volume inspect" requires at least one volume name, or --all');
    printInspect(ctx, names.map((n) => engine.inspectVolume(n)), str(p.flags.format));
    return 0;
  },
};

/** Like Podman: each failure is reported; exit 1 if only missing volumes failed, 125 otherwise. */
async function removeEach(ctx: CliContext, names: string[], fn: (name: string) => Promise<void>): Promise<number> {
  let code = 0;
  for (const n of names) {
    try {
      await fn(n);
      ctx.out(`${n}\n`);
    } catch (e) {
      ctx.err(`Error: ${(e as Error).message}\n`);
      code = isBerthError(e, 'not-found') && code !== 125 ? 1 : 125;
    }
  }
  return code;
}

const rmCommand: Command = {
  name: 'rm',
  aliases: ['remove'],
  usage: '[options] VOLUME [VOLUME...]',
  summary: 'Remove volumes (a volume in use needs --force, which removes its containers too)',
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Remove the volume even if containers use it, removing those containers' },
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all volumes' },
    { name: 'time', short: 't', type: 'int', help: 'Accepted for Podman compatibility (containers are killed at once)', arg: 'SECONDS' },
  ],
  async run(ctx, p) {
    const engine = ctx.engine();
    const all = bool(p.flags.all);
    if (all && p.args.length) throw invalidArgument('give volume names or --all, not both');
    const names = all ? engine.listVolumes().map((r) => String(r.Name)) : p.args;
    if (!names.length && !all) throw invalidArgument('"berth volume rm" requires at least one volume name, or --all');
    return removeEach(ctx, names, (n) => engine.removeVolume(n, { force: bool(p.flags.force) }));
  },
};

const pruneCommand: Command = {
  name: 'prune',
  usage: '[options]',
  summary: 'Remove all volumes not used by any container',
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    { name: 'filter', type: 'strings', help: 'Only volumes that match: label=K[=V], label!=K[=V], until=TIME', arg: 'KEY=VALUE' },
  ],
  maxArgs: 0,
  async run(ctx, p) {
    if (!bool(p.flags.force)) {
      ctx.out('WARNING! This will remove all volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ');
      if (!/^y(es)?$/i.test((await readLine(ctx.io.stdin)).trim())) return 0;
    }
    const removed = await ctx.engine().pruneVolumes(list(p.flags.filter));
    ctx.out(removed.map((n) => `${n}\n`).join(''));
    return 0;
  },
};

function readLine(stdin: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.off('end', finish);
      stdin.pause();
      resolve(buf.split('\n')[0] ?? '');
    };
    const onData = (d: Buffer | string) => {
      buf += d.toString();
      if (buf.includes('\n')) finish();
    };
    stdin.on('data', onData);
    stdin.on('end', finish);
  });
}

const existsCommand: Command = {
  name: 'exists',
  usage: 'VOLUME',
  summary: 'Check if a volume exists (exit 0 if it does, 1 if not)',
  minArgs: 1,
  maxArgs: 1,
  run(ctx, p) {
    return ctx.engine().volumeExists(p.args[0]!) ? 0 : 1;
  },
};

export const volumeGroup: Command = {
  name: 'volume',
  usage: 'COMMAND',
  summary: 'Manage volumes',
  subcommands: [createCommand, lsCommand, inspectCommand, rmCommand, pruneCommand, existsCommand],
};
