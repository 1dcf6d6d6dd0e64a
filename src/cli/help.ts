// Help text for commands and flags.
import type { FlagSpec } from './args.js';
import type { Command } from './command.js';

export function helpText(path: string | undefined, cmds: Command[], globals: FlagSpec[]): string {
  if (!path) {
    const rows = cmds.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n');
    return `Berth: a daemonless container engine\n\nUsage:\n  berth [global options] COMMAND [options] [args]\n\nCommands:\n${rows}\n\nGlobal options:\n${flagRows(globals)}\n`;
  }
  const c = cmds[0]!;
  let text = `${c.summary}\n\nUsage:\n  berth ${path} ${c.usage}\n`;
  if (c.aliases?.length) text += `\nAliases:\n  ${c.aliases.join(', ')}\n`;
  if (c.subcommands?.length) text += `\nCommands:\n${c.subcommands.map((s) => `  ${s.name.padEnd(12)} ${s.summary}`).join('\n')}\n`;
  if (c.flags?.length) text += `\nOptions:\n${flagRows(c.flags)}\n`;
  return text;
}

function flagRows(flags: FlagSpec[]): string {
  return flags.filter((f) => !f.hidden).map((f) => {
    const names = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.type === 'bool' ? '' : ` ${f.arg ?? (f.type === 'int' ? 'int' : 'string')}`}`;
    return `  ${names.padEnd(32)} ${f.help}${f.default !== undefined && f.default !== false ? ` (default ${JSON.stringify(f.default)})` : ''}`;
  }).join('\n');
}
