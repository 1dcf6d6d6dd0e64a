// Image commands: images/ls, inspect, rm, tag, untag, prune, exists, history,
// bootstrap, load, save, import.
import fs from 'node:fs';
import type { Command } from '../command.js';
import { FORMAT_FLAG } from '../command.js';
import { bool, list, str } from '../args.js';
import { renderList } from '../../format/output.js';
import { invalidArgument, isBerthError } from '../../engine/errors.js';
import { printInspect } from './containers.js';
import { humanSize } from '../../format/human.js';
import type { ArchiveFormat } from '../../engine/image-ops.js';

const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID', Id: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED',
  Created: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Names: 'NAMES',
};
const IMAGES_DEFAULT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

export const imagesCommand: Command = {
  name: 'images',
  aliases: ['ls', 'list'],
  usage: '[options] [REFERENCE]',
  summary: 'List images in local storage',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all images' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Show only image IDs' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate output' },
    { name: 'digests', type: 'bool', help: 'Show digests' },
    { name: 'filter', type: 'strings', help: 'Filter output (dangling=true|false, reference=NAME, label=KEY[=VALUE])', arg: 'KEY=VALUE' },
    FORMAT_FLAG,
  ],
  maxArgs: 1,
  run(ctx, p) {
    let rows = ctx.engine().listImages();
    const ref = p.args[0];
    if (ref) rows = rows.filter((r) => matchRef(r, ref));
    for (const f of list(p.flags.filter)) {
      const [k, v = ''] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
      if (f.indexOf('=') < 0) throw invalidArgument(`invalid filter "${f}": expected key=value`);
      if (k === 'dangling') rows = rows.filter((r) => r.Dangling === (v === 'true'));
      else if (k === 'reference') rows = rows.filter((r) => matchRef(r, v));
      else throw invalidArgument(`invalid image filter "${k}": use dangling or reference`);
    }
    if (bool(p.flags['no-trunc'])) rows.forEach((r) => { r.ID = 'sha256:' + String(r.Id); });
    if (bool(p.flags.quiet)) {
      ctx.out([...new Set(rows.map((r) => String(r.ID)))].map((id) => id + '\n').join(''));
      return 0;
    }
    const def = bool(p.flags.digests) ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}' : IMAGES_DEFAULT;
    ctx.out(renderList(str(p.flags.format), rows, { headers: IMAGE_HEADERS, defaultFormat: def }));
    return 0;
  },
};

function matchRef(r: Record<string, unknown>, ref: string): boolean {
  const repo = String(r.Repository), tag = String(r.Tag);
  const [rr, rt] = ref.includes(':') ? [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)] : [ref, undefined];
  const repoMatch = repo === rr || repo.endsWith('/' + rr);
  return repoMatch && (rt === undefined || rt === tag);
}

export const imageInspectCommand: Command = {
  name: 'inspect',
  usage: '[options] IMAGE [IMAGE...]',
  summary: 'Display the configuration of images',
  flags: [FORMAT_FLAG],
  minArgs: 1,
  run(ctx, p) {
    printInspect(ctx, p.args.map((r) => ctx.engine().inspectImage(r)), str(p.flags.format));
    return 0;
  },
};

export const rmiCommand: Command = {
  name: 'rm',
  aliases: ['rmi', 'remove'],
  usage: '[options] IMAGE [IMAGE...]',
  summary: 'Remove one or more images',
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Remove the image even if it has several tags or containers use it (removes them)' },
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all images' },
    { name: 'ignore', short: 'i', type: 'bool', help: 'Ignore errors when an image does not exist' },
  ],
  async run(ctx, p) {
    const engine = ctx.engine();
    const refs = bool(p.flags.all) ? engine.listImages().map((r) => String(r.Id)) : p.args;
    if (!refs.length && !bool(p.flags.all)) throw invalidArgument('"berth rmi" requires at least one image name or ID, or --all');
    let code = 0;
    for (const ref of [...new Set(refs)]) {
      try {
        const res = await engine.removeImage(ref, { force: bool(p.flags.force) });
        for (const n of res.untagged) ctx.out(`Untagged: ${n}\n`);
        for (const id of res.deleted) ctx.out(`Deleted: ${id}\n`);
      } catch (e) {
        if (isBerthError(e, 'not-found') && (bool(p.flags.ignore) || bool(p.flags.all))) continue;
        if (refs.length === 1) throw e;
        ctx.err(`Error: ${(e as Error).message}\n`);
        code = isBerthError(e, 'not-found') ? Math.max(code, 1) : 2;
      }
    }
    return code;
  },
};

export const tagCommand: Command = {
  name: 'tag',
  usage: 'IMAGE TARGET_NAME[:TAG] [TARGET_NAME[:TAG]...]',
  summary: 'Add names to a local image',
  minArgs: 2,
  run(ctx, p) {
    ctx.engine().tagImage(p.args[0]!, p.args.slice(1));
    return 0;
  },
};

export const untagCommand: Command = {
  name: 'untag',
  usage: 'IMAGE [NAME[:TAG]...]',
  summary: 'Remove names from a local image (all names when none are given)',
  minArgs: 1,
  run(ctx, p) {
    ctx.engine().untagImage(p.args[0]!, p.args.slice(1));
    return 0;
  },
};

export const imagePruneCommand: Command = {
  name: 'prune',
  usage: '[options]',
  summary: 'Remove unused images (dangling only, unless --all)',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all images not used by containers' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, p) {
    const res = await ctx.engine().pruneImages({ all: bool(p.flags.all) });
    for (const id of res.deleted) ctx.out(id + '\n');
    return 0;
  },
};

export const imageExistsCommand: Command = {
  name: 'exists',
  usage: 'IMAGE',
  summary: 'Check if an image exists in local storage (exit 0 if it does, 1 if not)',
  minArgs: 1,
  maxArgs: 1,
  run(ctx, p) {
    return ctx.engine().imageExists(p.args[0]!) ? 0 : 1;
  },
};

export const historyCommand: Command = {
  name: 'history',
  usage: '[options] IMAGE',
  summary: 'Show the history of an image',
  flags: [
    { name: 'quiet', short: 'q', type: 'bool', help: 'Display only the IDs' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate output' },
    { name: 'human', short: 'H', type: 'bool', default: true, help: 'Human-readable sizes' },
    FORMAT_FLAG,
  ],
  minArgs: 1,
  maxArgs: 1,
  run(ctx, p) {
    const rows = ctx.engine().imageHistory(p.args[0]!).map((r) => ({
      ...r,
      CreatedBy: bool(p.flags['no-trunc']) ? r.CreatedBy : truncate(r.CreatedBy, 45),
      Size: p.flags.human === false ? r.Size : humanSize(r.Size),
    }));
    if (bool(p.flags.quiet)) { ctx.out(rows.map((r) => r.ID + '\n').join('')); return 0; }
    ctx.out(renderList(str(p.flags.format), rows, {
      headers: { ID: 'ID', CreatedSince: 'CREATED', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT', Created: 'CREATED' },
      defaultFormat: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
    }));
    return 0;
  },
};

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 3) + '...' : s;
}

export const bootstrapCommand: Command = {
  name: 'bootstrap',
  usage: 'busybox',
  summary: 'Build a base image offline from host binaries (busybox → localhost/busybox:latest)',
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, p) {
    const res = await ctx.engine().bootstrapImage(p.args[0]!);
    ctx.out(`${res.name}\n${res.record.id}\n`);
    return 0;
  },
};

export const loadCommand: Command = {
  name: 'load',
  usage: '[options]',
  summary: 'Load images from a docker-archive or oci-archive (file or stdin)',
  flags: [
    { name: 'input', short: 'i', type: 'string', help: 'Read from an archive file instead of stdin', arg: 'FILE' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the output' },
  ],
  maxArgs: 0,
  async run(ctx, p) {
    const file = str(p.flags.input);
    if (!file && ctx.io.stdin.isTTY) throw invalidArgument('cannot read an archive from a terminal: use --input FILE or redirect stdin');
    let source: NodeJS.ReadableStream;
    if (file) {
      if (!fs.existsSync(file)) throw invalidArgument(`archive ${file} does not exist`);
      source = fs.createReadStream(file);
    } else source = ctx.io.stdin;
    const res = await ctx.engine().loadImages(source);
    if (!bool(p.flags.quiet)) {
      for (const n of res.names) ctx.out(`Loaded image: ${n}\n`);
      if (!res.names.length) for (const id of res.ids) ctx.out(`Loaded image: sha256:${id}\n`);
    }
    return 0;
  },
};

export const saveCommand: Command = {
  name: 'save',
  usage: '[options] IMAGE [IMAGE...]',
  summary: 'Save images to a docker-archive or oci-archive',
  flags: [
    { name: 'output', short: 'o', type: 'string', help: 'Write to a file instead of stdout', arg: 'FILE' },
    { name: 'format', type: 'string', default: 'docker-archive', help: 'docker-archive or oci-archive', arg: 'FORMAT' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the output' },
    { name: 'multi-image-archive', short: 'm', type: 'bool', help: 'Accepted for Podman compatibility (archives always hold every image given)' },
  ],
  minArgs: 1,
  async run(ctx, p) {
    const format = str(p.flags.format) as ArchiveFormat;
    if (format !== 'docker-archive' && format !== 'oci-archive') throw invalidArgument(`unsupported save format "${format}": use docker-archive or oci-archive`);
    const file = str(p.flags.output);
    if (!file && ctx.io.stdout.isTTY) throw invalidArgument('refusing to write an archive to a terminal: use --output FILE or redirect stdout');
    if (!file) {
      await ctx.engine().saveImages(p.args, format, ctx.io.stdout);
      return 0;
    }
    const tmp = `${file}.berth-tmp`;
    const out = fs.createWriteStream(tmp);
    try {
      await ctx.engine().saveImages(p.args, format, out);
      await new Promise<void>((res, rej) => { out.end(() => res()); out.on('error', rej); });
      fs.renameSync(tmp, file);
    } catch (e) {
      out.destroy();
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    return 0;
  },
};

export const importCommand: Command = {
  name: 'import',
  usage: '[options] FILE|- [REPOSITORY[:TAG]]',
  summary: 'Create an image from a rootfs tarball',
  flags: [
    { name: 'change', short: 'c', type: 'strings', help: 'Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME)', arg: 'INSTRUCTION' },
    { name: 'message', short: 'm', type: 'string', help: 'Commit message', arg: 'TEXT' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Print only the image ID' },
  ],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, p) {
    const [src, ref] = p.args;
    let source: NodeJS.ReadableStream;
    if (src === '-') source = ctx.io.stdin;
    else {
      if (!fs.existsSync(src!)) throw invalidArgument(`tarball ${src} does not exist`);
      source = fs.createReadStream(src!);
    }
    const res = await ctx.engine().importImage(source, { reference: ref, changes: list(p.flags.change), message: str(p.flags.message) });
    ctx.out(`sha256:${res.id}\n`);
    return 0;
  },
};
