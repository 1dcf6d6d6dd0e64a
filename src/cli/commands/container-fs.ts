// Container filesystem and identity commands: cp, diff, export, commit, rename, top, port.
import fs from 'node:fs';
import type { CliContext, Command } from '../command.js';
import { bool, list, str } from '../args.js';
import { renderList } from '../../format/output.js';
import { tabwrite } from '../../format/tabwriter.js';
import { invalidArgument, notFound } from '../../engine/errors.js';

/** Docker's rule: an absolute path (or one starting with ".") is local, else `CONTAINER:PATH` splits at the first colon. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/')) return { path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) || '/' };
}

export const cpCommand: Command = {
  name: 'cp',
  usage: '[options] [CONTAINER:]SRC_PATH [CONTAINER:]DEST_PATH',
  summary: 'Copy files/folders between a container and the local filesystem ("-" streams a tar archive)',
  flags: [
    { name: 'archive', short: 'a', type: 'bool', help: 'Keep uid/gid of the source (default: owned by root in a container, by you on the host)' },
    { name: 'follow-link', short: 'L', type: 'bool', help: 'Follow a symbolic link given as SRC_PATH' },
    { name: 'pause', type: 'bool', default: true, help: 'Pause a running container while copying' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Accepted for Docker compatibility (no progress is shown)', hidden: true },
  ],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, p) {
    const [srcArg, dstArg] = p.args as [string, string];
    const src = splitCpArg(srcArg), dst = splitCpArg(dstArg);
    if (src.container !== undefined && dst.container !== undefined) throw invalidArgument('copying between containers is not supported: copy to the host first');
    if (src.container === undefined && dst.container === undefined) {
      throw invalidArgument('one of SRC_PATH and DEST_PATH must be CONTAINER:PATH, e.g. berth cp ./file mycontainer:/tmp/');
    }
    const opts = { archive: bool(p.flags.archive), followLink: bool(p.flags['follow-link']), pause: p.flags.pause !== false };
    const engine = ctx.engine();
    if (src.container !== undefined) {
      if (dst.path === '-') {
        if (ctx.io.stdout.isTTY) throw invalidArgument('refusing to write a tar archive to a terminal: redirect stdout or give a destination path');
        await engine.copyFromContainer(src.container, src.path, { tar: ctx.io.stdout }, opts);
      } else {
        await engine.copyFromContainer(src.container, src.path, { hostPath: dst.path }, opts);
      }
      return 0;
    }
    if (src.path === '-') {
      if (ctx.io.stdin.isTTY) throw invalidArgument('cannot read a tar archive from a terminal: redirect stdin');
      await engine.copyToContainer(dst.container!, dst.path, { tar: ctx.io.stdin }, opts);
    } else {
      await engine.copyToContainer(dst.container!, dst.path, { hostPath: src.path }, opts);
    }
    return 0;
  },
};

export const diffCommand: Command = {
  name: 'diff',
  usage: '[options] CONTAINER',
  summary: 'Inspect changes on a container\'s filesystem (A added, C changed, D deleted)',
  flags: [{ name: 'format', type: 'string', help: 'Output as "json"', arg: 'FORMAT' }],
  minArgs: 1,
  maxArgs: 1,
  run(ctx, p) {
    const changes = ctx.engine().containerChanges(p.args[0]!);
    const format = str(p.flags.format);
    if (format === 'json') {
      // Podman's shape: only the non-empty lists.
      const out: Record<string, string[]> = {};
      for (const [key, kind] of [['changed', 'C'], ['added', 'A'], ['deleted', 'D']] as const) {
        const paths = changes.filter((c) => c.Kind === kind).map((c) => c.Path);
        if (paths.length) out[key] = paths;
      }
      ctx.out(JSON.stringify(out, null, 4) + '\n');
    } else if (format) {
      ctx.out(renderList(format, changes, { headers: { Path: 'PATH', Kind: 'KIND' }, defaultFormat: 'table {{.Kind}} {{.Path}}' }));
    } else {
      ctx.out(changes.map((c) => `${c.Kind} ${c.Path}\n`).join(''));
    }
    return 0;
  },
};

/** Writes a stream-producing action to FILE (via a temporary name) or to stdout, never to a terminal. */
async function toFileOrStdout(ctx: CliContext, file: string | undefined, write: (out: NodeJS.WritableStream) => Promise<void>): Promise<void> {
  if (!file) {
    if (ctx.io.stdout.isTTY) throw invalidArgument('refusing to write a tar archive to a terminal: use --output FILE or redirect stdout');
    await write(ctx.io.stdout);
    return;
  }
  const tmp = `${file}.berth-tmp`;
  const out = fs.createWriteStream(tmp);
  try {
    await write(out);
    await new Promise<void>((res, rej) => { out.on('error', rej); out.end(() => res()); });
    fs.renameSync(tmp, file);
  } catch (e) {
    out.destroy();
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export const exportCommand: Command = {
  name: 'export',
  usage: '[options] CONTAINER',
  summary: 'Export a container\'s filesystem as a tar archive',
  flags: [{ name: 'output', short: 'o', type: 'string', help: 'Write to a file instead of stdout', arg: 'FILE' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, p) {
    const engine = ctx.engine();
    await toFileOrStdout(ctx, str(p.flags.output), (out) => engine.exportContainer(p.args[0]!, out));
    return 0;
  },
};

export const commitCommand: Command = {
  name: 'commit',
  usage: '[options] CONTAINER [IMAGE[:TAG]]',
  summary: 'Create a new image from a container\'s changes',
  flags: [
    { name: 'change', short: 'c', type: 'strings', help: 'Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL)', arg: 'INSTRUCTION' },
    { name: 'message', short: 'm', type: 'string', help: 'Commit message', arg: 'TEXT' },
    { name: 'author', short: 'a', type: 'string', help: 'Author (e.g. "Jane Doe <jane@example.com>")', arg: 'AUTHOR' },
    { name: 'pause', short: 'p', type: 'bool', default: true, help: 'Pause the container while committing' },
    { name: 'format', short: 'f', type: 'string', default: 'oci', help: 'Image format: oci or docker', arg: 'FORMAT' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Print only the image ID (always the case)', hidden: true },
  ],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, p) {
    const format = str(p.flags.format);
    if (format !== 'oci' && format !== 'docker') throw invalidArgument(`unsupported image format "${format}": use oci or docker`);
    const res = await ctx.engine().commitContainer(p.args[0]!, {
      reference: p.args[1], changes: list(p.flags.change), message: str(p.flags.message), author: str(p.flags.author),
      pause: p.flags.pause !== false, format,
    });
    ctx.out(`sha256:${res.id}\n`);
    return 0;
  },
};

export const renameCommand: Command = {
  name: 'rename',
  usage: 'CONTAINER NEW_NAME',
  summary: 'Rename a container',
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, p) {
    await ctx.engine().renameContainer(p.args[0]!, p.args[1]!);
    return 0;
  },
};

export const topCommand: Command = {
  name: 'top',
  usage: 'CONTAINER [DESCRIPTORS...|ps OPTIONS]',
  summary: 'Display the running processes of a container',
  interspersed: false,
  minArgs: 1,
  async run(ctx, p) {
    const [ref, ...args] = p.args;
    const top = await ctx.engine().topContainer(ref!, args);
    const lines = [top.Titles, ...top.Processes].map((row) => row.join('\t') + '\n').join('');
    ctx.out(tabwrite(lines, { minwidth: 12, tabwidth: 2, padding: 2, padchar: ' ', flags: 0 }));
    return 0;
  },
};

export const portCommand: Command = {
  name: 'port',
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  summary: 'List port mappings of a container',
  minArgs: 1,
  maxArgs: 2,
  run(ctx, p) {
    const [ref, want] = p.args as [string, string | undefined];
    let ports = ctx.engine().containerPorts(ref);
    if (want !== undefined) {
      const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(want);
      if (!m) throw invalidArgument(`invalid port "${want}": expected PORT or PORT/PROTO, e.g. 80/tcp`);
      const proto = m[2] ?? 'tcp';
      ports = ports.filter((x) => x.ContainerPort === Number(m[1]) && x.Protocol === proto);
      if (!ports.length) throw notFound(`no public port '${m[1]}/${proto}' published for ${ref}`);
      ctx.out(ports.map((x) => `${x.HostIp || '0.0.0.0'}:${x.HostPort}\n`).join(''));
      return 0;
    }
    ctx.out(ports.map((x) => `${x.ContainerPort}/${x.Protocol} -> ${x.HostIp || '0.0.0.0'}:${x.HostPort}\n`).join(''));
    return 0;
  },
};
