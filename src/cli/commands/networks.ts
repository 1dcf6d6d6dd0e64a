// `berth network create|ls|inspect|rm|prune|exists|connect|disconnect`.
import type { Command } from '../command.js';
import { FORMAT_FLAG } from '../command.js';
import { bool, list, str } from '../args.js';
import { renderList } from '../../format/output.js';
import { parseKeyValues } from '../../engine/parse.js';
import { invalidArgument, isBerthError } from '../../engine/errors.js';
import { printInspect } from './containers.js';

const create: Command = {
  name: 'create',
  usage: '[options] NAME',
  summary: 'Create a bridge network',
  flags: [
    { name: 'subnet', type: 'string', help: 'Subnet in CIDR notation (default: a free /24 from the pool)', arg: 'CIDR' },
    { name: 'gateway', type: 'string', help: 'Gateway address (default: the first address)', arg: 'IP' },
    { name: 'ip-range', type: 'string', help: 'Allocate container addresses from this range', arg: 'CIDR' },
    { name: 'internal', type: 'bool', help: 'No traffic into or out of the network' },
    { name: 'label', type: 'strings', help: 'Set metadata', arg: 'KEY=VALUE' },
    { name: 'opt', short: 'o', type: 'strings', help: 'Driver options (mtu=N)', arg: 'KEY=VALUE' },
    { name: 'driver', short: 'd', type: 'string', default: 'bridge', help: 'Driver (bridge)', arg: 'DRIVER' },
    { name: 'disable-dns', type: 'bool', help: 'Do not resolve container names on this network' },
    { name: 'ignore', type: 'bool', help: 'Do nothing if the network exists' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, p) {
    if (str(p.flags.driver) !== 'bridge') throw invalidArgument(`unsupported network driver "${str(p.flags.driver)}": use bridge`);
    const n = await ctx.engine().createNetwork({
      name: p.args[0]!, subnet: str(p.flags.subnet), gateway: str(p.flags.gateway), ipRange: str(p.flags['ip-range']),
      internal: bool(p.flags.internal), labels: parseKeyValues(list(p.flags.label), 'label'), options: parseKeyValues(list(p.flags.opt), 'option'),
      dns: !bool(p.flags['disable-dns']), ignoreExisting: bool(p.flags.ignore),
    });
    ctx.out(`${String(n.Name)}\n`);
    return 0;
  },
};

const ls: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[options]',
  summary: 'List networks',
  flags: [
    { name: 'quiet', short: 'q', type: 'bool', help: 'Print only network names' },
    { name: 'filter', type: 'strings', help: 'Filter (name=, id=, label=, driver=)', arg: 'KEY=VALUE' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate IDs' },
    FORMAT_FLAG,
  ],
  maxArgs: 0,
  run(ctx, p) {
    let rows: Record<string, unknown>[] = ctx.engine().listNetworks().map((n) => ({
      ...n, ID: bool(p.flags['no-trunc']) ? n.Id : String(n.Id).slice(0, 12),
      Subnets: ((n.IPAM as { Config: { Subnet: string }[] }).Config ?? []).map((c) => c.Subnet).join(','),
    }));
    for (const f of list(p.flags.filter)) {
      const i = f.indexOf('=');
      const [k, v] = [f.slice(0, i), f.slice(i + 1)];
      if (k === 'name') rows = rows.filter((r) => String(r.Name).includes(v));
      else if (k === 'id') rows = rows.filter((r) => String(r.Id).startsWith(v));
      else if (k === 'driver') rows = rows.filter((r) => r.Driver === v);
      else if (k === 'label') rows = rows.filter((r) => { const [lk, lv] = v.split('='); const labels = r.Labels as Record<string, string>; return lv === undefined ? lk! in labels : labels[lk!] === lv; });
      else throw invalidArgument(`invalid network filter "${f}": use name=, id=, label= or driver=`);
    }
    if (bool(p.flags.quiet)) { ctx.out(rows.map((r) => `${String(r.Name)}\n`).join('')); return 0; }
    ctx.out(renderList(str(p.flags.format), rows, {
      headers: { ID: 'NETWORK ID', Id: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Subnets: 'SUBNETS', Internal: 'INTERNAL' },
      defaultFormat: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Subnets}}',
    }));
    return 0;
  },
};

const inspect: Command = {
  name: 'inspect',
  usage: '[options] NETWORK [NETWORK...]',
  summary: 'Display the configuration of networks',
  flags: [FORMAT_FLAG],
  minArgs: 1,
  run(ctx, p) {
    printInspect(ctx, p.args.map((n) => ctx.engine().inspectNetwork(n)), str(p.flags.format));
    return 0;
  },
};

const rm: Command = {
  name: 'rm',
  aliases: ['remove'],
  usage: '[options] NETWORK [NETWORK...]',
  summary: 'Remove networks',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Also remove the containers that use the network' }],
  minArgs: 1,
  async run(ctx, p) {
    let code = 0;
    for (const ref of p.args) {
      try {
        ctx.out(`${await ctx.engine().removeNetwork(ref, { force: bool(p.flags.force) })}\n`);
      } catch (e) {
        if (p.args.length === 1) throw e;
        ctx.err(`Error: ${(e as Error).message}\n`);
        code = isBerthError(e, 'not-found') ? Math.max(code, 1) : 2;
      }
    }
    return code;
  },
};

const prune: Command = {
  name: 'prune',
  usage: '[options]',
  summary: 'Remove networks no container uses',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' }],
  maxArgs: 0,
  async run(ctx) {
    for (const n of await ctx.engine().pruneNetworks()) ctx.out(n + '\n');
    return 0;
  },
};

const exists: Command = {
  name: 'exists',
  usage: 'NETWORK',
  summary: 'Check if a network exists (exit 0 if it does, 1 if not)',
  minArgs: 1,
  maxArgs: 1,
  run(ctx, p) { return ctx.engine().networkExists(p.args[0]!) ? 0 : 1; },
};

const connect: Command = {
  name: 'connect',
  usage: '[options] NETWORK CONTAINER',
  summary: 'Connect a container to a network (live if it runs)',
  flags: [
    { name: 'ip', type: 'string', help: 'IPv4 address on the network', arg: 'IP' },
    { name: 'alias', type: 'strings', help: 'Additional DNS names', arg: 'NAME' },
  ],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, p) {
    await ctx.engine().connectNetwork(p.args[0]!, p.args[1]!, { ip: str(p.flags.ip), aliases: list(p.flags.alias) });
    return 0;
  },
};

const disconnect: Command = {
  name: 'disconnect',
  usage: '[options] NETWORK CONTAINER',
  summary: 'Disconnect a container from a network (live if it runs)',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Accepted for compatibility' }],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, p) {
    await ctx.engine().disconnectNetwork(p.args[0]!, p.args[1]!);
    return 0;
  },
};

export const networkCommand: Command = {
  name: 'network',
  usage: 'COMMAND',
  summary: 'Manage networks',
  subcommands: [create, ls, inspect, rm, prune, exists, connect, disconnect],
};
