// Container commands that list, inspect and change existing containers.
import type { Command, CliContext } from '../command.js';
import { FORMAT_FLAG } from '../command.js';
import { bool, int, list, str } from '../args.js';
import { renderList, renderOne } from '../../format/output.js';
import { BerthError, isBerthError, invalidArgument } from '../../engine/errors.js';
import type { ContainerRecord } from '../../engine/container-types.js';
import { displayState } from '../../engine/views.js';

const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Id: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedHuman: 'CREATED', Created: 'CREATED',
  CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Status: 'STATUS', Ports: 'PORTS', Names: 'NAMES', State: 'STATE',
  Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS', Pid: 'PID', ExitCode: 'EXIT CODE', Size: 'SIZE', ImageID: 'IMAGE ID',
};
const PS_DEFAULT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** Runs `fn` for each argument; like Podman, reports each failure and exits non-zero if any failed. */
async function forEach(ctx: CliContext, refs: string[], fn: (ref: string) => Promise<string | undefined>): Promise<number> {
  let code = 0;
  for (const ref of refs) {
    try {
      const out = await fn(ref);
      if (out !== undefined) ctx.out(out + '\n');
    } catch (e) {
      if (refs.length === 1) throw e;
      ctx.err(`Error: ${(e as Error).message}\n`);
      code = isBerthError(e, 'not-found') && code === 0 ? 1 : 125;
    }
  }
  return code;
}

const FILTER_KEYS = ['id', 'name', 'status', 'label', 'ancestor', 'exited'];

function validateFilter(filter: string): void {
  const i = filter.indexOf('=');
  if (i < 0) throw invalidArgument(`invalid filter "${filter}": expected key=value (${FILTER_KEYS.join(', ')})`);
  if (!FILTER_KEYS.includes(filter.slice(0, i))) throw invalidArgument(`invalid filter key "${filter.slice(0, i)}": use ${FILTER_KEYS.join(', ')}`);
}

function matchesFilter(rec: ContainerRecord, filter: string): boolean {
  const i = filter.indexOf('=');
  const key = filter.slice(0, i), value = filter.slice(i + 1);
  const c = rec.config;
  switch (key) {
    case 'id': return c.id.startsWith(value);
    case 'name': return new RegExp(value).test(c.name);
    case 'status': return displayState(rec) === value || (value === 'stopped' && displayState(rec) === 'exited');
    case 'label': {
      const j = value.indexOf('=');
      return j < 0 ? value in c.labels : c.labels[value.slice(0, j)] === value.slice(j + 1);
    }
    case 'ancestor': return c.image === value || c.imageName === value || c.imageId.startsWith(value) || c.imageName.endsWith('/' + value) || c.imageName.endsWith('/' + value + ':latest');
    case 'exited': return displayState(rec) === 'exited' && rec.status.exitCode === Number(value);
    default: return false;
  }
}

export const psCommand: Command = {
  name: 'ps',
  usage: '[options]',
  summary: 'List containers',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Print only container IDs' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate output' },
    { name: 'filter', type: 'strings', help: 'Filter output (id, name, status, label, ancestor, exited)', arg: 'KEY=VALUE' },
    { name: 'last', short: 'n', type: 'int', help: 'Show the n last created containers', arg: 'N' },
    { name: 'latest', short: 'l', type: 'bool', help: 'Show the latest container' },
    { name: 'external', type: 'bool', help: 'Accepted for Podman compatibility', hidden: true },
    FORMAT_FLAG,
  ],
  maxArgs: 0,
  run(ctx, p) {
    const filters = list(p.flags.filter);
    for (const f of filters) validateFilter(f);
    const all = bool(p.flags.all) || filters.some((f) => f.startsWith('status=') || f.startsWith('exited='));
    let recs = ctx.engine().listContainers({ all: all || bool(p.flags.latest) || int(p.flags.last) !== undefined });
    recs = recs.filter((r) => filters.every((f) => matchesFilter(r, f)));
    if (bool(p.flags.latest)) recs = recs.slice(0, 1);
    const last = int(p.flags.last);
    if (last !== undefined && last >= 0) recs = recs.slice(0, last);
    const noTrunc = bool(p.flags['no-trunc']);
    if (bool(p.flags.quiet)) {
      ctx.out(recs.map((r) => (noTrunc ? r.config.id : r.config.id.slice(0, 12)) + '\n').join(''));
      return 0;
    }
    const now = Date.now();
    const rows = recs.map((r) => {
      const row = ctx.engine().containerSummary(r);
      if (noTrunc) row.ID = r.config.id;
      else if (typeof row.Command === 'string' && row.Command.length > 20) row.Command = row.Command.slice(0, 17) + '...';
      void now;
      return row;
    });
    ctx.out(renderList(str(p.flags.format), rows, { headers: PS_HEADERS, defaultFormat: PS_DEFAULT }));
    return 0;
  },
};

export function printInspect(ctx: CliContext, objs: unknown[], format: string | undefined): void {
  if (format && format !== 'json') ctx.out(objs.map((o) => renderOne(format, o)).join(''));
  else ctx.out(JSON.stringify(objs, null, 4) + '\n');
}

export const containerInspectCommand: Command = {
  name: 'inspect',
  usage: '[options] CONTAINER [CONTAINER...]',
  summary: 'Display the configuration of containers',
  flags: [FORMAT_FLAG, { name: 'size', short: 's', type: 'bool', help: 'Display total file size' }],
  minArgs: 1,
  run(ctx, p) {
    printInspect(ctx, p.args.map((r) => ctx.engine().inspectContainer(r)), str(p.flags.format));
    return 0;
  },
};

export const rmCommand: Command = {
  name: 'rm',
  usage: '[options] CONTAINER [CONTAINER...]',
  summary: 'Remove one or more containers',
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Force removal of a running or paused container' },
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all containers' },
    { name: 'ignore', short: 'i', type: 'bool', help: 'Ignore errors when a container does not exist' },
    { name: 'volumes', short: 'v', type: 'bool', help: 'Remove anonymous volumes of the container' },
    { name: 'time', short: 't', type: 'int', help: 'Seconds to wait for stop before killing', arg: 'SECONDS' },
  ],
  async run(ctx, p) {
    const engine = ctx.engine();
    const refs = bool(p.flags.all) ? engine.listContainers({ all: true }).map((r) => r.config.id) : p.args;
    if (!refs.length && !bool(p.flags.all)) throw invalidArgument('"berth rm" requires at least one container name or ID, or --all');
    const force = bool(p.flags.force), ignore = bool(p.flags.ignore) || (force && false);
    return forEach(ctx, refs, async (ref) => {
      try {
        await engine.removeContainer(ref, { force, volumes: bool(p.flags.volumes) });
      } catch (e) {
        if ((ignore || force) && isBerthError(e, 'not-found')) return undefined;
        throw e;
      }
      return bool(p.flags.all) ? ref : ref;
    });
  },
};

export const stopCommand: Command = {
  name: 'stop',
  usage: '[options] CONTAINER [CONTAINER...]',
  summary: 'Stop one or more running containers',
  flags: [
    { name: 'time', short: 't', type: 'int', help: 'Seconds to wait before killing the container', arg: 'SECONDS' },
    { name: 'all', short: 'a', type: 'bool', help: 'Stop all running containers' },
    { name: 'ignore', short: 'i', type: 'bool', help: 'Ignore errors when a container does not exist' },
  ],
  async run(ctx, p) {
    const engine = ctx.engine();
    const refs = bool(p.flags.all) ? engine.listContainers().map((r) => r.config.id) : p.args;
    if (!refs.length && !bool(p.flags.all)) throw invalidArgument('"berth stop" requires at least one container name or ID, or --all');
    const t = int(p.flags.time);
    if (t !== undefined && t < 0) throw invalidArgument('the stop timeout must not be negative');
    return forEach(ctx, refs, async (ref) => {
      try {
        await engine.stopContainer(ref, t);
      } catch (e) {
        if (bool(p.flags.ignore) && isBerthError(e, 'not-found')) return undefined;
        throw e;
      }
      return ref;
    });
  },
};

export const killCommand: Command = {
  name: 'kill',
  usage: '[options] CONTAINER [CONTAINER...]',
  summary: 'Send a signal to running containers',
  flags: [
    { name: 'signal', short: 's', type: 'string', default: 'KILL', help: 'Signal to send', arg: 'SIGNAL' },
    { name: 'all', short: 'a', type: 'bool', help: 'Signal all running containers' },
  ],
  async run(ctx, p) {
    const engine = ctx.engine();
    const refs = bool(p.flags.all) ? engine.listContainers().map((r) => r.config.id) : p.args;
    if (!refs.length && !bool(p.flags.all)) throw invalidArgument('"berth kill" requires at least one container name or ID, or --all');
    const sig = str(p.flags.signal) ?? 'KILL';
    return forEach(ctx, refs, async (ref) => { await engine.killContainer(ref, sig); return ref; });
  },
};

export const waitCommand: Command = {
  name: 'wait',
  usage: '[options] CONTAINER [CONTAINER...]',
  summary: 'Wait for containers to reach a condition (default: stopped) and print their exit codes',
  flags: [{ name: 'condition', type: 'strings', help: 'Condition: stopped, running, paused, removed, healthy, unhealthy, next-exit', arg: 'STATE' }],
  minArgs: 1,
  async run(ctx, p) {
    const conditions = list(p.flags.condition);
    return forEach(ctx, p.args, async (ref) => {
      // As Docker's and Podman's: the exit is recorded (and "died" written) when wait returns.
      if (!conditions.length) return String(await ctx.engine().waitContainerCondition(ref, 'stopped'));
      // Any of the given conditions.
      const codes = await Promise.race(conditions.map((c) => ctx.engine().waitContainerCondition(ref, c)));
      return String(codes);
    });
  },
};

export const restartCommand: Command = {
  name: 'restart',
  usage: '[options] CONTAINER [CONTAINER...]',
  summary: 'Restart one or more containers',
  flags: [
    { name: 'time', short: 't', type: 'int', help: 'Seconds to wait before killing the container', arg: 'SECONDS' },
    { name: 'all', short: 'a', type: 'bool', help: 'Restart all containers' },
  ],
  async run(ctx, p) {
    const engine = ctx.engine();
    const refs = bool(p.flags.all) ? engine.listContainers({ all: true }).map((r) => r.config.id) : p.args;
    if (!refs.length && !bool(p.flags.all)) throw invalidArgument('"berth restart" requires at least one container name or ID, or --all');
    return forEach(ctx, refs, async (ref) => { await engine.restartContainer(ref, int(p.flags.time)); return ref; });
  },
};

export const containerExistsCommand: Command = {
  name: 'exists',
  usage: 'CONTAINER',
  summary: 'Check if a container exists (exit 0 if it does, 1 if not)',
  minArgs: 1,
  maxArgs: 1,
  run(ctx, p) {
    return ctx.engine().containerExists(p.args[0]!) ? 0 : 1;
  },
};

export const cleanupCommand: Command = {
  name: 'cleanup',
  usage: 'CONTAINER',
  summary: 'Clean up after a container exits (run by the container monitor)',
  minArgs: 1,
  async run(ctx, p) {
    for (const ref of p.args) await ctx.engine().cleanupContainer(ref);
    return 0;
  },
};
