// The shape of a CLI command and the helpers commands share.
import type { FlagSpec, Parsed } from './args.js';
import type { Engine } from '../engine/engine.js';

export interface CliIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

export interface CliContext {
  /** The engine, created on first use (commands like `version` never open the store). */
  engine(): Engine;
  io: CliIO;
  out(text: string): void;
  err(text: string): void;
}

export interface Command {
  name: string;
  aliases?: string[];
  usage: string;            // e.g. "[options] IMAGE [COMMAND [ARG...]]"
  summary: string;
  flags?: FlagSpec[];
  /** false: flags end at the first positional argument (run, create, exec). */
  interspersed?: boolean;
  minArgs?: number;
  maxArgs?: number;
  subcommands?: Command[];
  /** false for commands that never touch the store (version): skips the reboot check. */
  usesEngine?: boolean;
  /** Returns the process exit code. */
  run?(ctx: CliContext, p: Parsed): Promise<number> | number;
}

export const FORMAT_FLAG: FlagSpec = { name: 'format', short: 'f', type: 'string', help: 'Format the output with a Go template, or "json"', arg: 'FORMAT' };
