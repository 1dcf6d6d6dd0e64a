// version, info, and the generic inspect.
import os from 'node:os';
import fs from 'node:fs';
import type { Command } from '../command.js';
import { FORMAT_FLAG } from '../command.js';
import { str } from '../args.js';
import { renderOne } from '../../format/output.js';
import { notFound, invalidArgument } from '../../engine/errors.js';
import { printInspect } from './containers.js';
import { VERSION } from '../version.js';

export const versionCommand: Command = {
  name: 'version',
  usesEngine: false,
  usage: '[options]',
  summary: 'Show version information',
  flags: [FORMAT_FLAG],
  maxArgs: 0,
  run(ctx, p) {
    const v = { Client: { Version: VERSION, APIVersion: '1.50', NodeVersion: process.version, OsArch: `linux/${os.arch() === 'x64' ? 'amd64' : os.arch()}` } };
    const format = str(p.flags.format);
    if (format === 'json') ctx.out(JSON.stringify(v, null, 4) + '\n');
    else if (format) ctx.out(renderOne(format, v));
    else ctx.out(`Version:      ${VERSION}\nAPI Version:  1.50\nNode Version: ${process.version}\nOS/Arch:      ${v.Client.OsArch}\n`);
    return 0;
  },
};

export const infoCommand: Command = {
  name: 'info',
  usage: '[options]',
  summary: 'Display system information',
  flags: [FORMAT_FLAG],
  maxArgs: 0,
  run(ctx, p) {
    const engine = ctx.engine();
    const cfg = engine.config;
    const containers = engine.listContainers({ all: true });
    const cgroupVersion = fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2' : 'v1';
    const info = {
      Host: {
        Arch: os.arch() === 'x64' ? 'amd64' : os.arch(), Hostname: os.hostname(), Kernel: os.release(), OS: 'linux',
        MemTotal: os.totalmem(), CPUs: os.cpus().length, CgroupVersion: cgroupVersion, CgroupManager: 'cgroupfs',
        OCIRuntime: { Name: 'runc', Path: cfg.runtimePath }, Conmon: { Path: cfg.conmonPath }, NetworkBackend: 'berth',
        DatabaseBackend: 'sqlite', LogDriver: 'k8s-file', EventLogger: 'database', Security: { Rootless: process.getuid?.() !== 0, SeccompEnabled: true },
        RemoteSocket: { Path: '/run/berth/docker.sock', Exists: fs.existsSync('/run/berth/docker.sock') },
      },
      Store: {
        GraphDriverName: 'overlay', GraphRoot: cfg.root, RunRoot: cfg.runroot, ConfigFile: cfg.configFile ?? '',
        ContainerStore: {
          Number: containers.length,
          Running: containers.filter((c) => c.state === 'running').length,
          Paused: containers.filter((c) => c.state === 'paused').length,
          Stopped: containers.filter((c) => c.state !== 'running' && c.state !== 'paused').length,
        },
        ImageStore: { Number: engine.listImages().length },
      },
      Version: { Version: VERSION, APIVersion: '1.50' },
    };
    const format = str(p.flags.format);
    if (format && format !== 'json') ctx.out(renderOne(format, info));
    else ctx.out(JSON.stringify(info, null, 4) + '\n');
    return 0;
  },
};

export const inspectCommand: Command = {
  name: 'inspect',
  usage: '[options] NAME|ID [NAME|ID...]',
  summary: 'Display the configuration of containers or images',
  flags: [
    FORMAT_FLAG,
    { name: 'type', short: 't', type: 'string', default: 'all', help: 'Return JSON for a container, image or all', arg: 'TYPE' },
    { name: 'size', short: 's', type: 'bool', help: 'Display total file size' },
  ],
  minArgs: 1,
  run(ctx, p) {
    const type = str(p.flags.type) ?? 'all';
    if (!['all', 'container', 'image', 'volume'].includes(type)) throw invalidArgument(`invalid --type "${type}": use container, image, volume or all`);
    const engine = ctx.engine();
    const objs = p.args.map((ref) => {
      if ((type === 'all' || type === 'container') && engine.containerExists(ref)) return engine.inspectContainer(ref);
      if ((type === 'all' || type === 'image') && engine.imageExists(ref)) return engine.inspectImage(ref);
      if ((type === 'all' || type === 'volume') && engine.volumeExists(ref)) return engine.inspectVolume(ref);
      throw notFound(`no such object: "${ref}"`);
    });
    printInspect(ctx, objs, str(p.flags.format));
    return 0;
  },
};
