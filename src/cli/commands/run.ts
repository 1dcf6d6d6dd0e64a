// `berth run`, `berth create` and `berth start`: create a container, start it,
// and (in the foreground) stream its stdio and exit with its exit code.
import type { Command, CliContext } from '../command.js';
import { CREATE_FLAGS, toCreateOptions } from './create-flags.js';
import { bool, list, type Parsed } from '../args.js';
import type { AttachStreams } from '../../engine/engine.js';
import { BerthError } from '../../engine/errors.js';
import { trace } from '../../sys/log.js';

const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

async function createFrom(ctx: CliContext, p: Parsed) {
  const [image, ...cmd] = p.args;
  return ctx.engine().createContainer(toCreateOptions(p, image!, cmd));
}

/** Attaches the terminal (or pipes) to a container, starts it and waits for its exit code. */
async function startAttached(ctx: CliContext, id: string, tty: boolean, interactive: boolean): Promise<number> {
  const engine = ctx.engine();
  const { stdin, stdout, stderr } = ctx.io;
  const rawTerminal = tty && interactive && stdin.isTTY;
  const streams: AttachStreams = {
    stdout: (d) => stdout.write(d),
    stderr: (d) => stderr.write(d),
  };
  if (interactive) streams.stdin = stdin;
  if (tty && stdout.isTTY) streams.size = { rows: stdout.rows, cols: stdout.columns };
  if (rawTerminal) stdin.setRawMode(true);
  // Signals are forwarded to the container; those that arrive while it is starting wait for the start.
  let pending: NodeJS.Signals[] | undefined = [];
  const forward = (sig: NodeJS.Signals) => { engine.killContainer(id, sig).catch(() => { /* already gone */ }); };
  const onSignal = (sig: NodeJS.Signals) => { if (pending) pending.push(sig); else forward(sig); };
  if (!tty) for (const s of PROXIED_SIGNALS) process.on(s, onSignal);
  try {
    const session = await engine.startContainer(id, streams);
    const queued = pending;
    pending = undefined;
    queued.forEach(forward);
    if (!session) throw new BerthError('conflict', `container ${id.slice(0, 12)} is already running: use "berth attach"`);
    const onResize = () => session.resize(stdout.rows, stdout.columns);
    if (tty && stdout.isTTY) stdout.on('resize', onResize);
    await session.done;
    trace('attach: streams ended');
    stdout.off('resize', onResize);
    const code = await engine.waitContainer(id);
    trace('exit code read');
    await engine.cleanupContainer(id);
    trace('cleaned up');
    return code;
  } finally {
    if (rawTerminal) stdin.setRawMode(false);
    if (interactive) stdin.pause();
    for (const s of PROXIED_SIGNALS) process.off(s, onSignal);
  }
}

export const runCommand: Command = {
  name: 'run',
  usage: '[options] IMAGE [COMMAND [ARG...]]',
  summary: 'Run a command in a new container',
  flags: [...CREATE_FLAGS, { name: 'detach', short: 'd', type: 'bool', help: 'Run the container in the background and print its ID' }],
  interspersed: false,
  minArgs: 1,
  async run(ctx, p) {
    const rec = await createFrom(ctx, p);
    const id = rec.config.id;
    if (bool(p.flags.detach)) {
      try {
        await ctx.engine().startContainer(id);
      } catch (e) {
        if (rec.config.autoRemove) await ctx.engine().removeContainer(id, { force: true }).catch(() => undefined);
        throw e;
      }
      ctx.out(id + '\n');
      return 0;
    }
    try {
      return await startAttached(ctx, id, rec.config.tty, rec.config.openStdin);
    } catch (e) {
      if (rec.config.autoRemove) await ctx.engine().removeContainer(id, { force: true }).catch(() => undefined);
      throw e;
    }
  },
};

export const createCommand: Command = {
  name: 'create',
  usage: '[options] IMAGE [COMMAND [ARG...]]',
  summary: 'Create but do not start a container',
  flags: CREATE_FLAGS,
  interspersed: false,
  minArgs: 1,
  async run(ctx, p) {
    const rec = await createFrom(ctx, p);
    ctx.out(rec.config.id + '\n');
    return 0;
  },
};

export const startCommand: Command = {
  name: 'start',
  usage: '[options] CONTAINER [CONTAINER...]',
  summary: 'Start one or more containers',
  flags: [
    { name: 'attach', short: 'a', type: 'bool', help: 'Attach to the container output and wait for it to exit' },
    { name: 'interactive', short: 'i', type: 'bool', help: 'Attach the container stdin' },
  ],
  minArgs: 1,
  async run(ctx, p) {
    const engine = ctx.engine();
    if (bool(p.flags.attach) || bool(p.flags.interactive)) {
      if (p.args.length > 1) throw new BerthError('invalid-argument', 'you cannot start and attach to more than one container at once');
      const rec = engine.getContainer(p.args[0]!);
      return startAttached(ctx, rec.config.id, rec.config.tty, bool(p.flags.interactive) && rec.config.openStdin);
    }
    let failed = 0;
    for (const ref of list(p.args)) {
      try {
        await engine.startContainer(ref);
        ctx.out(ref + '\n');
      } catch (e) {
        if (p.args.length === 1) throw e;
        ctx.err(`Error: ${(e as Error).message}\n`);
        failed++;
      }
    }
    return failed ? 125 : 0;
  },
};
