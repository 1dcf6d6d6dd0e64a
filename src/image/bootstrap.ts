// `berth image bootstrap busybox`: builds localhost/busybox:latest offline from
// the host's static busybox, so containers can run with no registry at all.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { EngineContext } from '../engine/context.js';
import { BerthError, invalidArgument } from '../engine/errors.js';
import { layerFromDirectory } from './build-layer.js';
import { storeImage } from './writer.js';
import { withImageLock } from './lock.js';
import { goArch, type ImageConfig, type ImageRecord } from './types.js';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;
const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`;

export const BOOTSTRAP_IMAGES = ['busybox'];

export async function bootstrapImage(ctx: EngineContext, what: string): Promise<{ record: ImageRecord; name: string }> {
  if (what !== 'busybox') throw invalidArgument(`cannot bootstrap "${what}": known images are ${BOOTSTRAP_IMAGES.join(', ')}`);
  const busybox = BUSYBOX_CANDIDATES.find((p) => isStaticBusybox(p));
  if (!busybox) throw new BerthError('not-found', 'no static busybox on this host: install it with "apt-get install busybox-static"');
  return withImageLock(ctx, () => build(ctx, busybox));
}

async function build(ctx: EngineContext, busybox: string): Promise<{ record: ImageRecord; name: string }> {
  const mtime = fs.statSync(busybox).mtime;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bootstrap-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    buildRootfs(rootfs, busybox, mtime);
    const layer = await layerFromDirectory(ctx.content, rootfs, { overlayWhiteouts: false });
    const created = mtime.toISOString();
    const config: ImageConfig = {
      created,
      architecture: goArch(),
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, created_by: `berth image bootstrap busybox (from ${busybox})` }],
    };
    const name = 'localhost/busybox:latest';
    const record = await storeImage(ctx.content, ctx.images, ctx.layers, {
      configBytes: Buffer.from(JSON.stringify(config)), layers: [layer.descriptor], names: [name],
    });
    ctx.events.record('image', 'bootstrap', record.id, name);
    return { record, name };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** An ELF executable without a program interpreter (PT_INTERP): it needs no libc in the image. */
function isStaticBusybox(p: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, 'r');
    const head = Buffer.alloc(64);
    if (fs.readSync(fd, head, 0, 64, 0) < 52 || head.toString('latin1', 0, 4) !== '\x7fELF') return false;
    const is64 = head[4] === 2, le = head[5] === 1;
    const u16 = (b: Buffer, at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
    const u32 = (b: Buffer, at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
    const phoff = is64 ? Number(le ? head.readBigUInt64LE(0x20) : head.readBigUInt64BE(0x20)) : u32(head, 0x1c);
    const phentsize = u16(head, is64 ? 0x36 : 0x2a), phnum = u16(head, is64 ? 0x38 : 0x2c);
    if (!phnum || phentsize < 4 || phnum > 4096) return false;
    const table = Buffer.alloc(phentsize * phnum);
    if (fs.readSync(fd, table, 0, table.length, phoff) < table.length) return false;
    const PT_INTERP = 3;
    for (let i = 0; i < phnum; i++) if (u32(table, i * phentsize) === PT_INTERP) return false;
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function buildRootfs(root: string, busybox: string, mtime: Date): void {
  const mk = (rel: string, mode = 0o755) => fs.mkdirSync(path.join(root, rel), { recursive: true, mode });
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'home', 'var/spool/mail', 'var/www', 'dev', 'proc', 'sys']) mk(d);
  mk('root', 0o700);
  mk('tmp');
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.copyFileSync(busybox, path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    const rel = a.replace(/^\/+/, '');
    if (rel === 'bin/busybox' || rel.includes('..')) continue;
    const target = path.join(root, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (!fs.existsSync(target)) fs.symlinkSync('/bin/busybox', target);
  }
  fs.writeFileSync(path.join(root, 'etc/passwd'), PASSWD);
  fs.writeFileSync(path.join(root, 'etc/group'), GROUP);
  fs.writeFileSync(path.join(root, 'etc/hostname'), 'busybox\n');
  fs.writeFileSync(path.join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n');
  fs.writeFileSync(path.join(root, 'etc/resolv.conf'), '');
  setTimes(root, mtime);
}

function setTimes(dir: string, t: Date): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) setTimes(p, t);
    fs.lutimesSync(p, t, t);
  }
  fs.utimesSync(dir, t, t);
}
