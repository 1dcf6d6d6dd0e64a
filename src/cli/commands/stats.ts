// `berth stats`: a live table of containers' resource usage, Podman's columns.
import tty from 'node:tty';
import type { Command } from '../command.js';
import { FORMAT_FLAG } from '../command.js';
import { bool, str } from '../args.js';
import { renderList } from '../../format/output.js';
import { humanSize } from '../../format/human.js';
import type { ContainerStats } from '../../engine/stats.js';

const HEADERS: Record<string, string> = {
  ID: 'ID', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET IO', BlockIO: 'BLOCK IO', PIDs: 'PIDS',
};
const DEFAULT_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

const pct = (n: number) => `${n.toFixed(2)}%`;
const pair = (a: number, b: number) => `${humanSize(a)} / ${humanSize(b)}`;

/** The fields templates see ({{.CPUPerc}}, …), plus the raw numbers. */
function row(s: ContainerStats): Record<string, unknown> {
  return {
    ID: s.id.slice(0, 12), Id: s.id, Name: s.name,
    CPUPerc: pct(s.cpuPercent), MemUsage: pair(s.memUsage, s.memLimit), MemPerc: pct(s.memPercent),
    NetIO: pair(s.netInput, s.netOutput), BlockIO: pair(s.blockInput, s.blockOutput), PIDs: s.pids,
    CPU: s.cpuPercent, CPUNano: s.cpuNs, MemLimit: s.memLimit, NetInput: s.netInput, NetOutput: s.netOutput,
    BlockInput: s.blockInput, BlockOutput: s.blockOutput,
  };
}

/** Podman's `stats --format json` objects (its key names). */
function jsonRow(s: ContainerStats): Record<string, unknown> {
  return {
    id: s.id.slice(0, 12), name: s.name, cpu_percent: pct(s.cpuPercent), mem_usage: pair(s.memUsage, s.memLimit),
    mem_percent: pct(s.memPercent),
    net_io: pair(s.netInput, s.netOutput), block_io: pair(s.blockInput, s.blockOutput), pids: String(s.pids),
  };
}

export const statsCommand: Command = {
  name: 'stats',
  usage: '[options] [CONTAINER...]',
  summary: 'Display a live stream of resource usage of containers',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'no-stream', type: 'bool', help: 'Print one sample and exit' },
    { name: 'no-reset', type: 'bool', help: 'Do not clear the terminal between updates' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate output' },
    { name: 'interval', short: 'i', type: 'int', default: 1, help: 'Seconds between updates when streaming', arg: 'SECONDS' },
    FORMAT_FLAG,
  ],
  async run(ctx, p) {
    const format = str(p.flags.format);
    const stream = !bool(p.flags['no-stream']);
    const interval = typeof p.flags.interval === 'number' && p.flags.interval > 0 ? p.flags.interval : 1;
    const stats = ctx.engine().containerStats(p.args, { all: bool(p.flags.all), intervalMs: interval * 1000 });
    const clear = stream && !bool(p.flags['no-reset']) && tty.isatty(1);
    let stop = false;
    // ^C ends the stream after the current round (the default would kill us mid-write).
    const onInt = () => { stop = true; };
    if (stream) process.once('SIGINT', onInt);
    try {
      for await (const list of stats) {
        if (stop) break;
        const text = format === 'json'
          ? JSON.stringify(list.map(jsonRow), null, 4) + '\n'
          : renderList(format, list.map((s) => {
            const r = row(s);
            if (bool(p.flags['no-trunc'])) r.ID = s.id;
            return r;
          }), { headers: HEADERS, defaultFormat: DEFAULT_FORMAT });
        ctx.out((clear ? '\x1b[2J\x1b[H' : '') + text);
        if (!stream || stop) break;
      }
    } finally {
      process.off('SIGINT', onInt);
    }
    return 0;
  },
};
