// Every CLI command, grouped like Podman's: top-level shortcuts plus the
// `container` and `image` groups.
import type { Command } from './command.js';
import { runCommand, createCommand, startCommand } from './commands/run.js';
import {
  psCommand, containerInspectCommand, rmCommand, stopCommand, killCommand, waitCommand, containerExistsCommand, cleanupCommand,
  restartCommand,
} from './commands/containers.js';
import {
  imagesCommand, imageInspectCommand, rmiCommand, tagCommand, untagCommand, imagePruneCommand, imageExistsCommand,
  historyCommand, bootstrapCommand, loadCommand, saveCommand, importCommand,
} from './commands/images.js';
import { versionCommand, infoCommand, inspectCommand } from './commands/system.js';
import { execCommand, attachCommand } from './commands/exec.js';
import { healthcheckCommand, hostServiceCommand } from './commands/health.js';
import { eventsCommand } from './commands/events.js';
import { networkCommand } from './commands/networks.js';
import { systemDfCommand, systemPruneCommand, systemCheckCommand, containerPruneCommand } from './commands/system-maint.js';
import { updateCommand, pauseCommand, unpauseCommand } from './commands/resources.js';
import { statsCommand } from './commands/stats.js';
import { volumeGroup } from './commands/volumes.js';
import { logsCommand } from './commands/logs.js';
import { pullCommand, pushCommand, loginCommand, logoutCommand, searchCommand } from './commands/registry.js';
import {
  cpCommand, diffCommand, exportCommand, commitCommand, renameCommand, topCommand, portCommand,
} from './commands/container-fs.js';
import { serveCommand } from './commands/serve.js';

const containerGroup: Command = {
  name: 'container',
  usage: 'COMMAND',
  summary: 'Manage containers',
  subcommands: [
    updateCommand, pauseCommand, unpauseCommand, statsCommand,
    runCommand, createCommand, startCommand, { ...psCommand, name: 'ls', aliases: ['list', 'ps'] }, containerInspectCommand,
    rmCommand, stopCommand, killCommand, waitCommand, containerExistsCommand, cleanupCommand, execCommand, attachCommand,
    restartCommand, containerPruneCommand, logsCommand,
    cpCommand, diffCommand, exportCommand, commitCommand, renameCommand, topCommand, portCommand,
  ],
};

const imageGroup: Command = {
  name: 'image',
  usage: 'COMMAND',
  summary: 'Manage images',
  subcommands: [
    { ...imagesCommand, name: 'ls', aliases: ['list'] }, imageInspectCommand, rmiCommand, tagCommand, untagCommand,
    imagePruneCommand, imageExistsCommand, historyCommand, bootstrapCommand, loadCommand, saveCommand, importCommand,
    pullCommand, pushCommand,
  ],
};

const systemGroup: Command = {
  name: 'system',
  usage: 'COMMAND',
  summary: 'Manage Berth itself',
  subcommands: [systemDfCommand, systemPruneCommand, systemCheckCommand, infoCommand, eventsCommand, hostServiceCommand],
};

export const COMMANDS: Command[] = [
  updateCommand, pauseCommand, unpauseCommand, statsCommand,
  runCommand, createCommand, startCommand, psCommand, inspectCommand, rmCommand, stopCommand, killCommand, waitCommand,
  execCommand, attachCommand, restartCommand,
  imagesCommand, { ...rmiCommand, name: 'rmi', aliases: [] }, tagCommand, untagCommand, historyCommand, loadCommand,
  saveCommand, importCommand, containerGroup, imageGroup, infoCommand, versionCommand,
  healthcheckCommand, systemGroup, eventsCommand, networkCommand,
  volumeGroup,
  logsCommand,
  cpCommand, diffCommand, exportCommand, commitCommand, renameCommand, topCommand, portCommand,
  pullCommand, pushCommand, loginCommand, logoutCommand, searchCommand,
  serveCommand,
];
