// Tar header blocks (ustar/GNU/v7 + PAX records), decoded strictly and
// binary-safely. Our own codec rather than tar-stream's because layers carry
// binary PAX values (SCHILY.xattr.security.capability) that must survive
// byte-for-byte, and large uids/sizes need PAX records when packing.
import { corrupt } from '../engine/errors.js';
import { splitDev } from '../sys/libc.js';

export const BLOCK = 512;

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** A header block as stored, before PAX / GNU long-name records are applied. */
export interface RawHeader {
  flag: string;       // typeflag character ('0', '5', 'x', 'L', ...)
  name: Buffer;       // name (with the ustar prefix joined)
  linkname: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  devmajor: number;
  devminor: number;
}

/** What the packer writes for one entry. */
export interface OutHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;      // whole seconds
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: [string, Buffer][];
}

const FLAG_TO_TYPE: Record<string, EntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink',
  '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};
const TYPE_TO_FLAG: Record<EntryType, string> = {
  file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6',
};

export function typeOfFlag(flag: string): EntryType | undefined {
  return FLAG_TO_TYPE[flag];
}

function cstr(b: Buffer, off: number, len: number): Buffer {
  const f = b.subarray(off, off + len);
  const nul = f.indexOf(0);
  return nul < 0 ? f : f.subarray(0, nul);
}

/** Parses a numeric field: octal text (space/NUL padded) or GNU base-256. */
function num(b: Buffer, off: number, len: number, field: string, at: number): number {
  const f = b.subarray(off, off + len);
  if (f[0] & 0x80) {
    if (f[0] !== 0x80) throw corrupt(`corrupt layer: negative ${field} in tar header at offset ${at}`);
    let v = 0;
    for (let i = 1; i < len; i++) v = v * 256 + f[i];
    if (!Number.isSafeInteger(v)) throw corrupt(`corrupt layer: ${field} too large in tar header at offset ${at}`);
    return v;
  }
  const s = f.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '').replace(/\0.*$/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw corrupt(`corrupt layer: invalid ${field} field in tar header at offset ${at}`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw corrupt(`corrupt layer: ${field} too large in tar header at offset ${at}`);
  return v;
}

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** Decodes a (non-zero) header block at stream offset `at`. */
export function decodeHeader(b: Buffer, at: number): RawHeader {
  let unsigned = 8 * 0x20, signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    unsigned += b[i];
    signed += b[i] > 127 ? b[i] - 256 : b[i];
  }
  let stored: number;
  try { stored = num(b, 148, 8, 'checksum', at); } catch { stored = -1; }
  if (stored !== unsigned && stored !== signed) {
    throw corrupt(at === 0
      ? 'layer is not a tar archive (bad header checksum at offset 0)'
      : `corrupt layer: bad tar header checksum at offset ${at}`);
  }
  const flag = String.fromCharCode(b[156]);
  const magic = b.toString('latin1', 257, 263);
  let name = cstr(b, 0, 100);
  if (magic === 'ustar\0' && b[345] !== 0) name = Buffer.concat([cstr(b, 345, 155), Buffer.from('/'), name]);
  const type = FLAG_TO_TYPE[flag];
  const isDev = type === 'char' || type === 'block';
  return {
    flag,
    name,
    linkname: cstr(b, 157, 100),
    mode: num(b, 100, 8, 'mode', at) & 0o7777,
    uid: num(b, 108, 8, 'uid', at),
    gid: num(b, 116, 8, 'gid', at),
    size: num(b, 124, 12, 'size', at),
    mtime: num(b, 136, 12, 'mtime', at),
    devmajor: isDev ? num(b, 329, 8, 'devmajor', at) : 0,
    devminor: isDev ? num(b, 337, 8, 'devminor', at) : 0,
  };
}

/** Parses PAX extended header records ("<len> <key>=<value>\n"), binary-safe. */
export function parsePax(buf: Buffer, at: number): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break; // NUL padding after the last record
    const sp = buf.indexOf(0x20, pos);
    const lenStr = sp < 0 ? '' : buf.toString('latin1', pos, sp);
    const len = /^[0-9]{1,9}$/.test(lenStr) ? parseInt(lenStr, 10) : -1;
    if (len <= sp - pos + 2 || pos + len > buf.length || buf[pos + len - 1] !== 0x0a) {
      throw corrupt(`corrupt layer: malformed PAX record in extended header at offset ${at}`);
    }
    const rec = buf.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw corrupt(`corrupt layer: malformed PAX record in extended header at offset ${at}`);
    const key = rec.toString('utf8', 0, eq);
    if (key.includes('\0')) throw corrupt(`corrupt layer: PAX key with NUL byte at offset ${at}`);
    out.set(key, Buffer.from(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

// ---- encoding (packing) ----

function octal(b: Buffer, off: number, len: number, v: number): void {
  b.write(v.toString(8).padStart(len - 1, '0'), off, len - 1, 'latin1');
  b[off + len - 1] = 0;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

const MAX7 = 0o7777777, MAX11 = 0o77777777777;
const isPlain = (s: string) => /^[\x20-\x7e]*$/.test(s);

function block(h: { name: Buffer; flag: string; mode: number; uid: number; gid: number; size: number; mtime: number;
  linkname: Buffer; devmajor: number; devminor: number }): Buffer {
  const b = Buffer.alloc(BLOCK);
  h.name.copy(b, 0, 0, 100);
  octal(b, 100, 8, h.mode);
  octal(b, 108, 8, h.uid);
  octal(b, 116, 8, h.gid);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, h.mtime);
  b.write(h.flag, 156, 1, 'latin1');
  h.linkname.copy(b, 157, 0, 100);
  b.write('ustar\x0000', 257, 8, 'latin1');
  octal(b, 329, 8, h.devmajor);
  octal(b, 337, 8, h.devminor);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i];
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

/** Padding after `size` bytes of entry data. */
/** A device number as a tar header's devmajor and devminor. */
export function tarDevNumbers(rdev: number | bigint): { devmajor: number; devminor: number } {
  const { major, minor } = splitDev(rdev);
  return { devmajor: major, devminor: minor };
}

export function padding(size: number): Buffer {
  const r = size % BLOCK;
  return Buffer.alloc(r === 0 ? 0 : BLOCK - r);
}

/** Encodes one entry's header blocks (a PAX header first when needed). */
export function encodeHeader(h: OutHeader): Buffer {
  const name = h.type === 'dir' && !h.name.endsWith('/') ? h.name + '/' : h.name;
  const link = h.linkname ?? '';
  const recs: Buffer[] = [];
  const nameBuf = Buffer.from(name);
  const linkBuf = Buffer.from(link);
  if (nameBuf.length > 100 || !isPlain(name)) recs.push(paxRecord('path', nameBuf));
  if (linkBuf.length > 100 || !isPlain(link)) recs.push(paxRecord('linkpath', linkBuf));
  if (h.uid > MAX7) recs.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (h.gid > MAX7) recs.push(paxRecord('gid', Buffer.from(String(h.gid))));
  if (h.size > MAX11) recs.push(paxRecord('size', Buffer.from(String(h.size))));
  const mtimeFits = h.mtime >= 0 && h.mtime <= MAX11;
  if (!mtimeFits) recs.push(paxRecord('mtime', Buffer.from(String(h.mtime))));
  for (const [k, v] of h.xattrs ?? []) recs.push(paxRecord(`SCHILY.xattr.${k}`, v));
  const main = block({
    name: recs.length ? Buffer.from(name.replace(/[^\x20-\x7e]/g, '_')).subarray(0, 100) : nameBuf,
    flag: TYPE_TO_FLAG[h.type],
    mode: h.mode & 0o7777,
    uid: Math.min(h.uid, MAX7),
    gid: Math.min(h.gid, MAX7),
    size: Math.min(h.size, MAX11),
    mtime: mtimeFits ? h.mtime : 0,
    linkname: linkBuf.length > 100 || !isPlain(link) ? Buffer.alloc(0) : linkBuf,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (recs.length === 0) return main;
  const pax = Buffer.concat(recs);
  const ph = block({
    name: Buffer.from('PaxHeader'), flag: 'x', mode: 0o644, uid: 0, gid: 0, size: pax.length,
    mtime: mtimeFits ? h.mtime : 0, linkname: Buffer.alloc(0), devmajor: 0, devminor: 0,
  });
  return Buffer.concat([ph, pax, padding(pax.length), main]);
}

/** The end-of-archive marker (two zero blocks). */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
