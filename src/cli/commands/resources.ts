// Resource-limit flags shared by run/create and update, and the commands that
// change a container's cgroup: update, pause, unpause.
import type { Command, CliContext } from '../command.js';
import type { FlagSpec, Parsed } from '../args.js';
import { int, str } from '../args.js';
import type { Resources } from '../../engine/container-types.js';
import { parseResources } from '../../engine/resources.js';
import { isBerthError, invalidArgument } from '../../engine/errors.js';

export const RESOURCE_FLAGS: FlagSpec[] = [
  { name: 'memory', short: 'm', type: 'string', help: 'Memory limit (e.g. 512m, 2g)', arg: 'SIZE' },
  { name: 'memory-swap', type: 'string', help: 'Memory plus swap limit (at least --memory; -1 for unlimited swap)', arg: 'SIZE' },
  { name: 'memory-reservation', type: 'string', help: 'Memory soft limit', arg: 'SIZE' },
  { name: 'cpus', type: 'string', help: 'Number of CPUs (e.g. 1.5)', arg: 'N' },
  { name: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (relative weight, default 1024)', arg: 'N' },
  { name: 'cpu-quota', type: 'int', help: 'Limit the CPU CFS quota (microseconds per period)', arg: 'USEC' },
  { name: 'cpu-period', type: 'int', help: 'Limit the CPU CFS period (microseconds)', arg: 'USEC' },
  { name: 'cpuset-cpus', type: 'string', help: 'CPUs in which to allow execution (0-3, 0,1)', arg: 'LIST' },
  { name: 'cpuset-mems', type: 'string', help: 'Memory nodes in which to allow execution (0-3, 0,1)', arg: 'LIST' },
  { name: 'pids-limit', type: 'int', help: 'Tune the container pids limit (-1 unlimited)', arg: 'N' },
  { name: 'blkio-weight', type: 'int', help: 'Block IO relative weight, 10 to 1000', arg: 'N' },
];

export const DEVICE_FLAG: FlagSpec = { name: 'device', type: 'strings', help: 'Add a host device (HOST[:CONTAINER][:PERMISSIONS])', arg: 'DEVICE' };

/** The limits given on the command line (only those set). */
export function resourcesFromFlags(p: Parsed): Resources {
  const f = p.flags;
  return parseResources({
    memory: str(f.memory), memorySwap: str(f['memory-swap']), memoryReservation: str(f['memory-reservation']),
    cpus: str(f.cpus), cpuShares: int(f['cpu-shares']), cpuQuota: int(f['cpu-quota']), cpuPeriod: int(f['cpu-period']),
    cpusetCpus: str(f['cpuset-cpus']), cpusetMems: str(f['cpuset-mems']),
    pidsLimit: int(f['pids-limit']), blkioWeight: int(f['blkio-weight']),
  });
}

/** Runs `fn` for each container; like Podman, prints the reference on success and reports each failure. */
async function eachContainer(ctx: CliContext, refs: string[], fn: (ref: string) => Promise<void>): Promise<number> {
  let code = 0;
  for (const ref of refs) {
    try {
      await fn(ref);
      ctx.out(ref + '\n');
    } catch (e) {
      if (refs.length === 1) throw e;
      ctx.err(`Error: ${(e as Error).message}\n`);
      code = isBerthError(e, 'not-found') && code === 0 ? 1 : 125;
    }
  }
  return code;
}

export const updateCommand: Command = {
  name: 'update',
  usage: '[options] CONTAINER [CONTAINER...]',
  summary: 'Update the resource limits of one or more containers',
  flags: RESOURCE_FLAGS,
  minArgs: 1,
  async run(ctx, p) {
    const changes = resourcesFromFlags(p);
    if (!RESOURCE_FLAGS.some((f) => p.set.has(f.name))) {
      throw invalidArgument('"berth update" needs at least one limit to change, e.g. --memory 256m or --cpus 1');
    }
    return eachContainer(ctx, p.args, (ref) => ctx.engine().updateContainer(ref, changes));
  },
};

export const pauseCommand: Command = {
  name: 'pause',
  usage: 'CONTAINER [CONTAINER...]',
  summary: 'Pause all the processes of one or more containers',
  minArgs: 1,
  run: (ctx, p) => eachContainer(ctx, p.args, (ref) => ctx.engine().pauseContainer(ref)),
};

export const unpauseCommand: Command = {
  name: 'unpause',
  usage: 'CONTAINER [CONTAINER...]',
  summary: 'Unpause the processes of one or more containers',
  minArgs: 1,
  run: (ctx, p) => eachContainer(ctx, p.args, (ref) => ctx.engine().unpauseContainer(ref)),
};
