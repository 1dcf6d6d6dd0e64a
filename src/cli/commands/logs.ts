// `berth logs` (also `berth container logs`): a container's output, stdout to our
// stdout and stderr to our stderr.
import type { Command } from '../command.js';
import { bool, str } from '../args.js';
import { invalidArgument } from '../../engine/errors.js';

/** `--tail`: a count, or `all` (also any negative number, as Podman's -1). */
function parseTail(v: string | undefined): number | undefined {
  if (v === undefined || v === 'all') return undefined;
  if (!/^-?\d+$/.test(v)) throw invalidArgument(`invalid --tail "${v}": use a number of lines or "all"`);
  const n = Number(v);
  return n < 0 ? undefined : n;
}

export const logsCommand: Command = {
  name: 'logs',
  usage: '[options] CONTAINER',
  summary: 'Fetch the logs of a container',
  flags: [
    { name: 'follow', short: 'f', type: 'bool', help: 'Follow log output until the container stops' },
    { name: 'tail', type: 'string', help: 'Number of lines to show from the end of the logs (default all)', arg: 'N' },
    { name: 'since', type: 'string', help: 'Show logs since TIMESTAMP (RFC 3339, Unix seconds, or a duration such as 10m)', arg: 'TIMESTAMP' },
    { name: 'until', type: 'string', help: 'Show logs before TIMESTAMP (RFC 3339, Unix seconds, or a duration such as 10m)', arg: 'TIMESTAMP' },
    { name: 'timestamps', short: 't', type: 'bool', help: 'Show timestamps' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, p) {
    const tail = parseTail(str(p.flags.tail));
    const { stdout, stderr } = ctx.io;
    // A reader that went away (`berth logs -f c | head`) ends the command quietly.
    for (const s of [stdout, stderr]) s.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); });
    const write = (s: NodeJS.WriteStream, d: Buffer) => (s.write(d) ? undefined : new Promise<void>((r) => s.once('drain', r)));
    await ctx.engine().containerLogs(p.args[0]!, {
      follow: bool(p.flags.follow),
      tail,
      since: str(p.flags.since),
      until: str(p.flags.until),
      timestamps: bool(p.flags.timestamps),
    }, {
      stdout: (d) => write(stdout, d),
      stderr: (d) => write(stderr, d),
    });
    return 0;
  },
};
