// Registry commands: pull, push, login, logout, search (also `image pull|push`).
// Parsing and output only; the work is in the Engine's registry methods.
import fs from 'node:fs';
import type { CliContext, Command } from '../command.js';
import { FORMAT_FLAG } from '../command.js';
import { bool, int, str, type FlagSpec, type Parsed } from '../args.js';
import { invalidArgument } from '../../engine/errors.js';
import type { PullOptions, RegistryOptions } from '../../engine/engine.js';
import { renderList } from '../../format/output.js';
import { progressView } from '../progress-view.js';

const TLS_FLAGS: FlagSpec[] = [
  { name: 'tls-verify', type: 'bool', help: 'Require HTTPS and verify certificates (default: verify; plain HTTP only for loopback and insecure registries)' },
  { name: 'cert-dir', type: 'string', help: 'Use certificates (*.crt, *.cert, *.key) from this directory', arg: 'DIR' },
  { name: 'authfile', type: 'string', help: 'Path of the credentials file (default: $XDG_RUNTIME_DIR/berth/auth.json; env BERTH_AUTH_FILE)', arg: 'FILE' },
];
const CREDS_FLAG: FlagSpec = { name: 'creds', type: 'string', help: 'Credentials USERNAME[:PASSWORD] for this command only', arg: 'CREDS' };

function registryOptions(p: Parsed): RegistryOptions {
  const o: RegistryOptions = {};
  if (p.set.has('tls-verify')) o.tlsVerify = bool(p.flags['tls-verify']);
  if (str(p.flags['cert-dir'])) o.certDir = str(p.flags['cert-dir']);
  if (str(p.flags.authfile)) o.authfile = str(p.flags.authfile);
  if (str(p.flags.creds) !== undefined) o.creds = str(p.flags.creds);
  return o;
}

export const pullCommand: Command = {
  name: 'pull',
  usage: '[options] IMAGE[:TAG|@DIGEST] [IMAGE...]',
  summary: 'Pull images from a registry',
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Pull every tag of the repository' },
    { name: 'platform', type: 'string', help: 'Platform to pull from an index: OS/ARCH[/VARIANT] (default: this host)', arg: 'PLATFORM' },
    { name: 'arch', type: 'string', help: 'Architecture to pull (instead of this host\'s)', arg: 'ARCH' },
    { name: 'os', type: 'string', help: 'Operating system to pull (default linux)', arg: 'OS' },
    { name: 'variant', type: 'string', help: 'Architecture variant to pull (e.g. v7)', arg: 'VARIANT' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Print only the image IDs' },
    ...TLS_FLAGS, CREDS_FLAG,
  ],
  minArgs: 1,
  async run(ctx, p) {
    const opts: PullOptions = { ...registryOptions(p), allTags: bool(p.flags['all-tags']) };
    for (const k of ['platform', 'arch', 'os', 'variant'] as const) if (str(p.flags[k])) opts[k] = str(p.flags[k]);
    for (const ref of p.args) {
      const view = progressView(bool(p.flags.quiet));
      try {
        const images = await ctx.engine().pullImage(ref, opts, view.onMessage);
        view.done();
        for (const img of images) ctx.out(img.id + '\n');
      } catch (e) {
        view.done();
        throw e;
      }
    }
    return 0;
  },
};

export const pushCommand: Command = {
  name: 'push',
  usage: '[options] IMAGE [DESTINATION]',
  summary: 'Push an image to a registry',
  flags: [
    { name: 'format', short: 'f', type: 'string', help: 'Manifest format: oci or v2s2 (default: as the image was stored)', arg: 'FORMAT' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Print nothing but errors' },
    { name: 'digestfile', type: 'string', help: 'Write the pushed manifest digest to this file', arg: 'FILE' },
    { name: 'remove-signatures', type: 'bool', help: 'Accepted for Podman compatibility (Berth stores no signatures)' },
    ...TLS_FLAGS, CREDS_FLAG,
  ],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, p) {
    const format = str(p.flags.format);
    if (format !== undefined && format !== 'oci' && format !== 'v2s2') throw invalidArgument(`unsupported manifest format "${format}": use oci or v2s2`);
    const view = progressView(bool(p.flags.quiet));
    let res;
    try {
      res = await ctx.engine().pushImage(p.args[0]!, p.args[1], { ...registryOptions(p), ...(format ? { format } : {}) }, view.onMessage);
    } finally {
      view.done();
    }
    const file = str(p.flags.digestfile);
    if (file) fs.writeFileSync(file, res.digest);
    return 0;
  },
};

/** Reads one line from the terminal; `hidden` turns echo off (passwords). */
function prompt(ctx: CliContext, question: string, hidden: boolean): Promise<string> {
  const { stdin } = ctx.io;
  ctx.err(question);
  return new Promise((resolve, reject) => {
    let buf = '';
    const raw = hidden && stdin.isTTY;
    if (raw) stdin.setRawMode(true);
    const finish = (e?: Error) => {
      stdin.off('data', onData);
      if (raw) { stdin.setRawMode(false); ctx.err('\n'); }
      stdin.pause();
      if (e) reject(e); else resolve(buf);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(invalidArgument('login interrupted'));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

async function readStdin(ctx: CliContext): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of ctx.io.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export const loginCommand: Command = {
  name: 'login',
  usage: '[options] [REGISTRY]',
  summary: 'Log in to a registry (default docker.io)',
  flags: [
    { name: 'username', short: 'u', type: 'string', help: 'User name', arg: 'USER' },
    { name: 'password', short: 'p', type: 'string', help: 'Password (prefer --password-stdin)', arg: 'PASSWORD' },
    { name: 'password-stdin', type: 'bool', help: 'Read the password from stdin' },
    { name: 'get-login', type: 'bool', help: 'Print the user name stored for the registry' },
    ...TLS_FLAGS,
  ],
  maxArgs: 1,
  async run(ctx, p) {
    const o = registryOptions(p);
    const server = p.args[0];
    if (bool(p.flags['get-login'])) {
      ctx.out((await ctx.engine().loginUser(server, o)) + '\n');
      return 0;
    }
    let username = str(p.flags.username);
    let password = str(p.flags.password);
    if (bool(p.flags['password-stdin'])) {
      if (password !== undefined) throw invalidArgument('--password and --password-stdin cannot be used together');
      if (!username) throw invalidArgument('--password-stdin needs --username');
      password = await readStdin(ctx);
    }
    const interactive = ctx.io.stdin.isTTY;
    if (username !== undefined || password !== undefined || interactive) {
      if (!username) {
        if (!interactive) throw invalidArgument('give a user name with --username');
        username = (await prompt(ctx, 'Username: ', false)).trim();
      }
      if (password === undefined) {
        if (!interactive) throw invalidArgument('give a password with --password-stdin (or --password)');
        password = await prompt(ctx, 'Password: ', true);
      }
    }
    const res = await ctx.engine().login(server, { ...o, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) });
    if (res.reused) ctx.out(`Authenticating with existing credentials for ${res.key}\n`);
    ctx.out('Login Succeeded!\n');
    return 0;
  },
};

export const logoutCommand: Command = {
  name: 'logout',
  usage: '[options] [REGISTRY]',
  summary: 'Remove the stored credentials of a registry (default docker.io)',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove the credentials of every registry' },
    { name: 'authfile', type: 'string', help: 'Path of the credentials file', arg: 'FILE' },
  ],
  maxArgs: 1,
  async run(ctx, p) {
    if (bool(p.flags.all) && p.args.length) throw invalidArgument('--all and a registry name cannot be used together');
    ctx.out((await ctx.engine().logout(p.args[0], { ...registryOptions(p), all: bool(p.flags.all) })) + '\n');
    return 0;
  },
};

export const searchCommand: Command = {
  name: 'search',
  usage: '[options] TERM',
  summary: 'Search registries for images (REGISTRY/TERM searches one registry)',
  flags: [
    { name: 'limit', type: 'int', help: 'Show at most this many results per registry (default 25)', arg: 'N' },
    { name: 'list-tags', type: 'bool', help: 'List the tags of the repository TERM' },
    { name: 'filter', short: 'f', type: 'strings', help: 'Filter results: stars=N, is-official=true|false, is-automated=true|false', arg: 'FILTER' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate descriptions' },
    { ...FORMAT_FLAG, short: undefined },
    ...TLS_FLAGS, CREDS_FLAG,
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, p) {
    const limit = int(p.flags.limit);
    const listTags = bool(p.flags['list-tags']);
    let rows = await ctx.engine().searchImages(p.args[0]!, { ...registryOptions(p), ...(limit !== undefined ? { limit } : {}), listTags });
    for (const f of (p.flags.filter as string[] | undefined) ?? []) {
      const [k, v] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
      if (k === 'stars' && /^\d+$/.test(v)) rows = rows.filter((r) => r.Stars >= Number(v));
      else if (k === 'is-official' && (v === 'true' || v === 'false')) rows = rows.filter((r) => (r.Official === '[OK]') === (v === 'true'));
      else if (k === 'is-automated' && (v === 'true' || v === 'false')) rows = rows.filter((r) => (r.Automated === '[OK]') === (v === 'true'));
      else throw invalidArgument(`invalid search filter "${f}": use stars=N, is-official=true|false or is-automated=true|false`);
    }
    if (!bool(p.flags['no-trunc'])) rows = rows.map((r) => ({ ...r, Description: r.Description.length > 44 ? r.Description.slice(0, 41) + '...' : r.Description }));
    const def = listTags ? 'table {{.Name}}\t{{.Tag}}' : 'table {{.Name}}\t{{.Description}}';
    ctx.out(renderList(str(p.flags.format), rows as unknown as Record<string, unknown>[], {
      headers: { Name: 'NAME', Description: 'DESCRIPTION', Tag: 'TAG', Stars: 'STARS', Official: 'OFFICIAL', Automated: 'AUTOMATED', Index: 'INDEX' },
      defaultFormat: def,
    }));
    return 0;
  },
};
