// `berth events`.
import type { Command } from '../command.js';
import { FORMAT_FLAG } from '../command.js';
import { list, str } from '../args.js';
import { renderOne } from '../../format/output.js';
import type { EngineEvent } from '../../engine/events.js';

/** Podman's event shape, for --format and json. */
function view(e: EngineEvent): Record<string, unknown> {
  const time = new Date(Math.floor(e.time / 1000)).toISOString().replace(/\.(\d{3})Z$/, `.$1${String(e.time % 1000).padStart(3, '0')}000Z`);
  return {
    ID: e.id, Name: e.name ?? '', Image: e.attributes.image ?? '', Status: e.action, Type: e.type, Time: time,
    TimeNano: e.time * 1000, Attributes: e.attributes,
    ...(e.attributes.exitCode !== undefined ? { ContainerExitCode: Number(e.attributes.exitCode) } : {}),
  };
}

export const eventsCommand: Command = {
  name: 'events',
  usage: '[options]',
  summary: 'Show events of containers, images and volumes',
  flags: [
    { name: 'since', type: 'string', help: 'Show events since this time (RFC 3339, Unix seconds or a duration like 10m)', arg: 'TIME' },
    { name: 'until', type: 'string', help: 'Show events until this time (then exit)', arg: 'TIME' },
    { name: 'filter', short: 'f', type: 'strings', help: 'Filter (type=, event=, container=, image=, volume=, label=)', arg: 'KEY=VALUE' },
    { name: 'stream', type: 'bool', default: true, help: 'Keep waiting for new events (--stream=false prints past events and exits)' },
    { ...FORMAT_FLAG, short: undefined },
  ],
  maxArgs: 0,
  async run(ctx, p) {
    const format = str(p.flags.format);
    const follow = p.flags.stream === false ? false : undefined;
    for await (const e of ctx.engine().events({ since: str(p.flags.since), until: str(p.flags.until), filters: list(p.flags.filter), follow })) {
      const v = view(e);
      if (format === 'json') ctx.out(JSON.stringify(v) + '\n');
      else if (format) ctx.out(renderOne(format, v));
      else {
        const attrs = Object.entries({ ...e.attributes, ...(e.name ? { name: e.name } : {}) }).sort().map(([k, val]) => `${k}=${val}`).join(', ');
        ctx.out(`${v.Time} ${e.type} ${e.action} ${e.id}${attrs ? ` (${attrs})` : ''}\n`);
      }
    }
    return 0;
  },
};
