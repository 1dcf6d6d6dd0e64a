// `berth exec` and `berth attach`.
import fs from 'node:fs';
import type { Command } from '../command.js';
import { bool, list, str } from '../args.js';
import { linkTerminal, DEFAULT_DETACH_KEYS } from '../terminal.js';
import { DETACH_KEYS_FLAG } from './run.js';
import { parseEnv, parseEnvFile } from '../../engine/parse.js';
import { invalidArgument } from '../../engine/errors.js';

export const execCommand: Command = {
  name: 'exec',
  usage: '[options] CONTAINER COMMAND [ARG...]',
  summary: 'Run a process in a running container',
  flags: [
    { name: 'detach', short: 'd', type: 'bool', help: 'Run the process in the background' },
    { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open' },
    { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
    { name: 'env', short: 'e', type: 'strings', help: 'Set environment variables', arg: 'KEY=VALUE' },
    { name: 'env-file', type: 'strings', help: 'Read environment variables from a file', arg: 'FILE' },
    { name: 'user', short: 'u', type: 'string', help: 'User (name|uid[:group|gid])', arg: 'USER' },
    { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container', arg: 'DIR' },
    { name: 'privileged', type: 'bool', help: 'Give the process the container\'s full capability bounding set' },
    DETACH_KEYS_FLAG,
  ],
  interspersed: false,
  minArgs: 2,
  async run(ctx, p) {
    const [ref, ...cmd] = p.args;
    const envFiles = list(p.flags['env-file']).flatMap((file) => {
      let text: string;
      try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw invalidArgument(`cannot read env file ${file}: ${(e as Error).message}`); }
      return parseEnvFile(text, file);
    });
    const opts = {
      cmd, tty: bool(p.flags.tty), interactive: bool(p.flags.interactive), detach: bool(p.flags.detach),
      env: [...parseEnv(envFiles), ...parseEnv(list(p.flags.env))], user: str(p.flags.user), workingDir: str(p.flags.workdir),
      privileged: bool(p.flags.privileged),
    };
    const engine = ctx.engine();
    if (opts.detach) {
      const res = await engine.execContainer(ref!, opts);
      ctx.out(res.id + '\n');
      return 0;
    }
    if (!opts.tty) {
      // No tty: the process shares our stdio directly.
      const res = await engine.execContainer(ref!, opts, 'inherit');
      return await res.exitCode;
    }
    const term = linkTerminal(ctx.io, { tty: opts.tty, stdin: opts.interactive, detachKeys: str(p.flags['detach-keys']) ?? DEFAULT_DETACH_KEYS });
    try {
      const res = await engine.execContainer(ref!, opts, term.streams);
      term.bind(res.session!);
      await res.session!.done;
      if (term.detached) return 0;
      return await res.exitCode;
    } finally {
      term.restore();
    }
  },
};

export const attachCommand: Command = {
  name: 'attach',
  usage: '[options] CONTAINER',
  summary: 'Attach to a running container\'s input and output',
  flags: [
    { name: 'no-stdin', type: 'bool', help: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: 'bool', default: true, help: 'Accepted for compatibility' },
    DETACH_KEYS_FLAG,
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, p) {
    const engine = ctx.engine();
    const rec = engine.getContainer(p.args[0]!);
    const term = linkTerminal(ctx.io, {
      tty: rec.config.tty, stdin: rec.config.openStdin && !bool(p.flags['no-stdin']), detachKeys: str(p.flags['detach-keys']) ?? DEFAULT_DETACH_KEYS,
    });
    try {
      const session = await engine.attachContainer(rec.config.id, term.streams);
      term.bind(session);
      await session.done;
      if (term.detached) return 0;
      return await engine.waitContainer(rec.config.id);
    } finally {
      term.restore();
    }
  },
};
