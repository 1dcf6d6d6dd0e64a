// `berth system df|prune|check` and `berth container prune`.
import type { Command } from '../command.js';
import { FORMAT_FLAG } from '../command.js';
import { bool, str } from '../args.js';
import { renderList } from '../../format/output.js';
import { humanSize } from '../../format/human.js';

export const systemDfCommand: Command = {
  name: 'df',
  usage: '[options]',
  summary: 'Show disk usage of images, containers and volumes',
  flags: [FORMAT_FLAG, { name: 'verbose', short: 'v', type: 'bool', help: 'Accepted for compatibility' }],
  maxArgs: 0,
  run(ctx, p) {
    const du = ctx.engine().diskUsage();
    const pct = (r: number, s: number) => (s ? ` (${Math.round((r / s) * 100)}%)` : ' (0%)');
    const rows = [
      { Type: 'Images', Total: du.images.total, Active: du.images.active, Size: humanSize(du.images.size), Reclaimable: humanSize(du.images.reclaimable) + pct(du.images.reclaimable, du.images.size), RawSize: du.images.size },
      { Type: 'Containers', Total: du.containers.total, Active: du.containers.active, Size: humanSize(du.containers.size), Reclaimable: humanSize(du.containers.reclaimable) + pct(du.containers.reclaimable, du.containers.size), RawSize: du.containers.size },
      { Type: 'Local Volumes', Total: du.volumes.total, Active: du.volumes.active, Size: humanSize(du.volumes.size), Reclaimable: humanSize(du.volumes.reclaimable) + pct(du.volumes.reclaimable, du.volumes.size), RawSize: du.volumes.size },
    ];
    ctx.out(renderList(str(p.flags.format), rows, {
      headers: { Type: 'TYPE', Total: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
      defaultFormat: 'table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
    }));
    return 0;
  },
};

export const systemPruneCommand: Command = {
  name: 'prune',
  usage: '[options]',
  summary: 'Remove stopped containers, unused networks, dangling images (all unused with -a) and, with --volumes, unused volumes',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images, not just dangling ones' },
    { name: 'volumes', type: 'bool', help: 'Also remove volumes no container uses' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, p) {
    const r = await ctx.engine().pruneSystem({ all: bool(p.flags.all), volumes: bool(p.flags.volumes) });
    if (r.containers.length) ctx.out(`Deleted Containers\n${r.containers.join('\n')}\n`);
    if (r.networks.length) ctx.out(`Deleted Networks\n${r.networks.join('\n')}\n`);
    if (r.images.length) ctx.out(`Deleted Images\n${r.images.join('\n')}\n`);
    if (r.volumes.length) ctx.out(`Deleted Volumes\n${r.volumes.join('\n')}\n`);
    ctx.out(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    return 0;
  },
};

export const systemCheckCommand: Command = {
  name: 'check',
  usage: '[options]',
  summary: 'Find inconsistencies between the database and the system (and repair them with --repair)',
  flags: [
    { name: 'repair', short: 'r', type: 'bool', help: 'Repair what is found' },
    { name: 'quick', short: 'q', type: 'bool', help: 'Accepted for compatibility' },
  ],
  maxArgs: 0,
  async run(ctx, p) {
    const repair = bool(p.flags.repair);
    const findings = await ctx.engine().systemCheck(repair);
    if (!findings.length) {
      ctx.out('No problems found\n');
      return 0;
    }
    for (const f of findings) ctx.out(`${f.repaired ? 'repaired' : 'found'}: ${f.what}: ${f.detail}\n`);
    const open = findings.filter((f) => !f.repaired).length;
    if (open && !repair) ctx.out('Run "berth system check --repair" to fix them.\n');
    return open ? 1 : 0;
  },
};

export const containerPruneCommand: Command = {
  name: 'prune',
  usage: '[options]',
  summary: 'Remove all stopped containers',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' }],
  maxArgs: 0,
  async run(ctx) {
    const r = await ctx.engine().pruneContainers();
    for (const id of r.removed) ctx.out(id + '\n');
    return 0;
  },
};
