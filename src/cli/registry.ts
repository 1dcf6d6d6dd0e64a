// Every CLI command, grouped like Podman's: top-level shortcuts plus the
// `container` and `image` groups.
import type { Command } from './command.js';
import { runCommand, createCommand, startCommand } from './commands/run.js';
import {
  psCommand, containerInspectCommand, rmCommand, stopCommand, killCommand, waitCommand, containerExistsCommand, cleanupCommand,
} from './commands/containers.js';
import {
  imagesCommand, imageInspectCommand, rmiCommand, tagCommand, untagCommand, imagePruneCommand, imageExistsCommand,
  historyCommand, bootstrapCommand, loadCommand, saveCommand, importCommand,
} from './commands/images.js';
import { versionCommand, infoCommand, inspectCommand } from './commands/system.js';

const containerGroup: Command = {
  name: 'container',
  usage: 'COMMAND',
  summary: 'Manage containers',
  subcommands: [
    runCommand, createCommand, startCommand, { ...psCommand, name: 'ls', aliases: ['list', 'ps'] }, containerInspectCommand,
    rmCommand, stopCommand, killCommand, waitCommand, containerExistsCommand, cleanupCommand,
  ],
};

const imageGroup: Command = {
  name: 'image',
  usage: 'COMMAND',
  summary: 'Manage images',
  subcommands: [
    { ...imagesCommand, name: 'ls', aliases: ['list'] }, imageInspectCommand, rmiCommand, tagCommand, untagCommand,
    imagePruneCommand, imageExistsCommand, historyCommand, bootstrapCommand, loadCommand, saveCommand, importCommand,
  ],
};

export const COMMANDS: Command[] = [
  runCommand, createCommand, startCommand, psCommand, inspectCommand, rmCommand, stopCommand, killCommand, waitCommand,
  imagesCommand, { ...rmiCommand, name: 'rmi', aliases: [] }, tagCommand, untagCommand, historyCommand, loadCommand,
  saveCommand, importCommand, containerGroup, imageGroup, infoCommand, versionCommand,
];
