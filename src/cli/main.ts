// Entry point of the `berth` CLI: global flags, command dispatch, and the one
// place that maps errors to exit codes (125 engine, 126 cannot invoke, 127 not found).
import v8 from 'node:v8';
import { parseArgs, type FlagSpec, str } from './args.js';
import type { CliContext, Command } from './command.js';
import { COMMANDS } from './registry.js';
import { BerthError, messageOf } from '../engine/errors.js';
import { loadConfig } from '../engine/config.js';
import { Engine } from '../engine/engine.js';
import { isLevel, log, trace } from '../sys/log.js';
import { helpText } from './help.js';
import { VERSION } from './version.js';
import { writeOut, useStreams, streamsInUse } from './output-fd.js';

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'root', type: 'string', help: 'Path to the persistent state (default /var/lib/berth)', arg: 'PATH' },
  { name: 'runroot', type: 'string', help: 'Path to the runtime state (default /run/berth)', arg: 'PATH' },
  { name: 'log-level', type: 'string', help: 'Log level: debug, info, warn, error', arg: 'LEVEL' },
  { name: 'config', type: 'string', help: 'Config file (default /etc/berth/berth.toml)', arg: 'FILE' },
  { name: 'help', short: 'h', type: 'bool', help: 'Show help' },
  { name: 'version', short: 'v', type: 'bool', help: 'Print the version' },
];

export function exitCodeFor(e: unknown): number {
  if (e instanceof BerthError) {
    if (e.kind === 'command-not-found') return 127;
    if (e.kind === 'cannot-invoke') return 126;
  }
  return 125;
}

async function main(argv: string[]): Promise<number> {
  trace('main');
  // Global flags come first; the first positional word picks the command.
  let i = 0;
  const globalArgv: string[] = [];
  while (i < argv.length && argv[i]!.startsWith('-')) {
    const a = argv[i]!;
    globalArgv.push(a);
    const takesValue = GLOBAL_FLAGS.some((f) => f.type === 'string' && `--${f.name}` === a);
    if (takesValue && i + 1 < argv.length) globalArgv.push(argv[++i]!);
    i++;
  }
  const global = parseArgs(globalArgv, GLOBAL_FLAGS, { interspersed: true, command: '' });
  let engine: Engine | undefined;
  const ctx: CliContext = {
    // Getters: creating Node's stdio streams costs a few ms, and most commands print through fds.
    io: {
      get stdin() { useStreams(); return process.stdin; },
      get stdout() { useStreams(); return process.stdout; },
      get stderr() { useStreams(); return process.stderr; },
    },
    out: (t) => writeOut(1, t),
    err: (t) => writeOut(2, t),
    engine: () => {
      if (!engine) {
        engine = new Engine(loadConfig({
          root: str(global.flags.root), runroot: str(global.flags.runroot),
          logLevel: str(global.flags['log-level']), config: str(global.flags.config),
        }));
        // Now the level from a flag after the command word or from the config file counts too.
        log.setLevel(engine.config.logLevel);
      }
      return engine;
    },
  };
  const level = str(global.flags['log-level']) ?? process.env.BERTH_LOG_LEVEL;
  if (level) {
    if (!isLevel(level)) throw new BerthError('invalid-argument', `invalid log level "${level}": use debug, info, warn or error`);
    log.setLevel(level);
  }
  if (global.flags.version) { ctx.out(`berth version ${VERSION}\n`); return 0; }
  const rest = argv.slice(i);
  if (!rest.length || global.flags.help) { ctx.out(helpText(undefined, COMMANDS, GLOBAL_FLAGS)); return rest.length || global.flags.help ? 0 : 125; }
  // Walk down subcommands: `image ls`, `container inspect`, …
  let cmd = findCommand(COMMANDS, rest[0]!);
  let path = rest[0]!;
  let j = 1;
  if (!cmd) throw new BerthError('invalid-argument', `unrecognized command \`berth ${rest[0]}\`: run 'berth --help' for the list of commands`);
  while (cmd.subcommands && j < rest.length && !rest[j]!.startsWith('-')) {
    const sub = findCommand(cmd.subcommands, rest[j]!);
    if (!sub) {
      if (cmd.run) break;
      throw new BerthError('invalid-argument', `unrecognized command \`berth ${path} ${rest[j]}\`: run 'berth ${path} --help'`);
    }
    cmd = sub;
    path += ' ' + rest[j];
    j++;
  }
  const specs = withGlobalFlags(cmd.flags ?? []);
  const parsed = parseArgs(rest.slice(j), specs, { interspersed: cmd.interspersed !== false, command: path });
  if (parsed.flags.help) { ctx.out(helpText(path, [cmd], GLOBAL_FLAGS)); return 0; }
  if (!cmd.run) { ctx.out(helpText(path, [cmd], GLOBAL_FLAGS)); return cmd.subcommands && rest.length > j ? 125 : 0; }
  // Global flags given after the command word (`berth ps --root X`) count too.
  for (const g of ['root', 'runroot', 'log-level', 'config']) {
    if (parsed.set.has(g) && !cmd.flags?.some((f) => f.name === g)) global.flags[g] = parsed.flags[g];
  }
  if (cmd.minArgs !== undefined && parsed.args.length < cmd.minArgs) {
    throw new BerthError('invalid-argument', `"berth ${path}" requires at least ${cmd.minArgs} argument${cmd.minArgs > 1 ? 's' : ''}. See 'berth ${path} --help'`);
  }
  if (cmd.maxArgs !== undefined && parsed.args.length > cmd.maxArgs) {
    throw new BerthError('invalid-argument', `"berth ${path}" accepts at most ${cmd.maxArgs} argument${cmd.maxArgs === 1 ? '' : 's'}. See 'berth ${path} --help'`);
  }
  try {
    if (cmd.usesEngine !== false) await ctx.engine().prepare();
    return await cmd.run(ctx, parsed);
  } finally {
    engine?.close();
  }
}

/** A command's flags plus the global ones it does not shadow (`run -h` is --hostname, `run -v` is --volume). */
function withGlobalFlags(flags: FlagSpec[]): FlagSpec[] {
  const extra: FlagSpec[] = [];
  for (const g of GLOBAL_FLAGS) {
    if (g.name === 'version' || flags.some((f) => f.name === g.name)) continue;
    extra.push(g.short && flags.some((f) => f.short === g.short) ? { ...g, short: undefined } : g);
  }
  return [...flags, ...extra];
}

function findCommand(list: Command[], word: string): Command | undefined {
  return list.find((c) => c.name === word || c.aliases?.includes(word));
}


/** Exits once everything written to stdout and stderr has been flushed (pipes are asynchronous). */
function exit(code: number): void {
  trace('exit');
  if (!streamsInUse()) process.exit(code);
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

function start(): void {
  main(process.argv.slice(2)).then(exit, (e: unknown) => {
    if (!(e instanceof BerthError) || log.enabled('debug')) writeOut(2, String((e as Error)?.stack ?? e) + '\n');
    writeOut(2, `Error: ${messageOf(e)}\n`);
    exit(exitCodeFor(e));
  });
}

// Built into a V8 startup snapshot (see scripts/build.mjs), main runs when the snapshot is deserialized.
if (v8.startupSnapshot?.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(start);
else start();
