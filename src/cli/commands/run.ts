// `berth run`, `berth create` and `berth start`: create a container, start it,
// and (in the foreground) stream its stdio and exit with its exit code.
import type { Command, CliContext } from '../command.js';
import { CREATE_FLAGS, toCreateOptions } from './create-flags.js';
import { bool, list, str, type Parsed, type FlagSpec } from '../args.js';
import fs from 'node:fs';
import { linkTerminal, DEFAULT_DETACH_KEYS } from '../terminal.js';
import { BerthError } from '../../engine/errors.js';
import { trace } from '../../sys/log.js';
import { progressView } from '../progress-view.js';

export const DETACH_KEYS_FLAG: FlagSpec = { name: 'detach-keys', type: 'string', help: `Key sequence that detaches (default "${DEFAULT_DETACH_KEYS}"; "" disables)`, arg: 'KEYS' };

const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

async function createFrom(ctx: CliContext, p: Parsed) {
  const [image, ...cmd] = p.args;
  const opts = toCreateOptions(p, image!, cmd);
  const cidfile = str(p.flags.cidfile);
  if (cidfile && fs.existsSync(cidfile)) {
    throw new BerthError('conflict', `container ID file ${cidfile} already exists: make sure the other container is not running, or delete the file`);
  }
  // Pull progress (when the image has to be pulled) goes to stderr, as with Podman.
  const view = progressView(bool(p.flags.quiet));
  let rec;
  try {
    rec = await ctx.engine().createContainer(opts, { onPullProgress: view.onMessage });
  } finally {
    view.done();
  }
  if (cidfile) {
    try {
      fs.writeFileSync(cidfile, rec.config.id, { flag: 'wx' });
    } catch (e) {
      await ctx.engine().removeContainer(rec.config.id, { force: true });
      throw new BerthError('invalid-argument', `cannot write the container ID file ${cidfile}: ${(e as Error).message}`);
    }
  }
  return rec;
}

/** Attaches the terminal (or pipes) to a container, starts it and waits for its exit code. */
async function startAttached(ctx: CliContext, id: string, o: { tty: boolean; interactive: boolean; detachKeys: string }): Promise<number> {
  const engine = ctx.engine();
  const term = linkTerminal(ctx.io, { tty: o.tty, stdin: o.interactive, detachKeys: o.detachKeys });
  // Signals are forwarded to the container; those that arrive while it is starting wait for the start.
  let pending: NodeJS.Signals[] | undefined = [];
  const forward = (sig: NodeJS.Signals) => { engine.killContainer(id, sig).catch(() => { /* already gone */ }); };
  const onSignal = (sig: NodeJS.Signals) => { if (pending) pending.push(sig); else forward(sig); };
  if (!o.tty) for (const s of PROXIED_SIGNALS) process.on(s, onSignal);
  try {
    const session = await engine.startContainer(id, term.streams);
    const queued = pending;
    pending = undefined;
    queued.forEach(forward);
    if (!session) throw new BerthError('conflict', `container ${id.slice(0, 12)} is already running: use "berth attach"`);
    term.bind(session);
    await session.done;
    trace('attach: streams ended');
    // Detached: the container keeps running under conmon, which cleans up after it.
    if (term.detached) return 0;
    const code = await engine.waitContainer(id);
    trace('exit code read');
    await engine.cleanupContainer(id, { attached: true });
    trace('cleaned up');
    return code;
  } finally {
    term.restore();
    for (const s of PROXIED_SIGNALS) process.off(s, onSignal);
  }
}

export const runCommand: Command = {
  name: 'run',
  usage: '[options] IMAGE [COMMAND [ARG...]]',
  summary: 'Run a command in a new container',
  flags: [
    ...CREATE_FLAGS,
    { name: 'detach', short: 'd', type: 'bool', help: 'Run the container in the background and print its ID' },
    DETACH_KEYS_FLAG,
  ],
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
      return await startAttached(ctx, id, { tty: rec.config.tty, interactive: rec.config.openStdin, detachKeys: str(p.flags['detach-keys']) ?? DEFAULT_DETACH_KEYS });
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
    DETACH_KEYS_FLAG,
  ],
  minArgs: 1,
  async run(ctx, p) {
    const engine = ctx.engine();
    if (bool(p.flags.attach) || bool(p.flags.interactive)) {
      if (p.args.length > 1) throw new BerthError('invalid-argument', 'you cannot start and attach to more than one container at once');
      const rec = engine.getContainer(p.args[0]!);
      return startAttached(ctx, rec.config.id, {
        tty: rec.config.tty, interactive: bool(p.flags.interactive) && rec.config.openStdin, detachKeys: str(p.flags['detach-keys']) ?? DEFAULT_DETACH_KEYS,
      });
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
