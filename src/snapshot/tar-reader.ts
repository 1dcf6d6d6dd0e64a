// Streaming tar reader over an async byte iterator: yields one entry at a time
// with its data as an async generator of buffer slices (never buffering whole
// entries). Every byte pulled from the source passes through `onChunk` (used for
// the diffID hash and the size bound).
import { corrupt } from '../engine/errors.js';
import { BLOCK, decodeHeader, isZeroBlock, parsePax, typeOfFlag, type EntryType } from './tar-format.js';

const MAX_META = 8 * 1024 * 1024; // PAX / GNU long-name payload bound

export class ByteSource {
  private chunks: Buffer[] = [];
  private avail = 0;
  private eof = false;
  /** Bytes handed out so far (stream offset of the next byte). */
  pos = 0;

  constructor(private readonly it: AsyncIterator<unknown>, private readonly onChunk: (b: Buffer) => void) {}

  private async pull(): Promise<boolean> {
    if (this.eof) return false;
    const r = await this.it.next();
    if (r.done) { this.eof = true; return false; }
    const v = r.value;
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
    this.onChunk(b);
    if (b.length) { this.chunks.push(b); this.avail += b.length; }
    return true;
  }

  /** Takes up to `n` bytes from the first chunk (at least 1; caller ensured avail > 0). */
  private takeFirst(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length <= n) {
      this.chunks.shift();
      this.avail -= first.length;
      this.pos += first.length;
      return first;
    }
    this.chunks[0] = first.subarray(n);
    this.avail -= n;
    this.pos += n;
    return first.subarray(0, n);
  }

  /** Reads exactly `n` bytes, or fewer only when the stream ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.avail < n && await this.pull());
    const want = Math.min(n, this.avail);
    if (this.chunks.length && this.chunks[0].length >= want) return this.takeFirst(want);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < want) { const p = this.takeFirst(want - got); parts.push(p); got += p.length; }
    return Buffer.concat(parts, want);
  }

  /** Yields exactly `n` bytes as slices; `onShort` builds the error on early end. */
  async *slices(n: number, onShort: () => Error): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      while (this.avail === 0) if (!await this.pull()) throw onShort();
      const b = this.takeFirst(left);
      left -= b.length;
      yield b;
    }
  }

  async skip(n: number, onShort: () => Error): Promise<void> {
    for await (const _ of this.slices(n, onShort)) { /* discard */ }
  }

  /** Consumes (and so hashes) everything after the end-of-archive marker. */
  async drain(): Promise<void> {
    this.pos += this.avail;
    this.chunks = [];
    this.avail = 0;
    while (await this.pull()) { this.pos += this.avail; this.chunks = []; this.avail = 0; }
  }
}

export interface TarEntry {
  /** The name as stored (after PAX/GNU long names), for resolution and messages. */
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;      // seconds, may be fractional
  atime: number | undefined;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: [string, Buffer][];
  /** The entry's data (regular files only); may be consumed at most once. */
  data(): AsyncGenerator<Buffer>;
}

const q = (s: string) => JSON.stringify(s);
const truncated = (what: string) => () => corrupt(`truncated layer: unexpected end of data in ${what}`);
const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

function decimal(v: Buffer, key: string, name: string, max: number): number {
  const s = v.toString('latin1');
  if (!/^[0-9]{1,16}$/.test(s) || Number(s) > max) throw corrupt(`layer entry ${q(name)} has an invalid PAX ${key} "${s.slice(0, 40)}"`);
  return Number(s);
}

function seconds(v: Buffer, key: string, name: string): number {
  const s = v.toString('latin1');
  if (!/^-?[0-9]{1,12}(\.[0-9]{0,9})?$/.test(s)) throw corrupt(`layer entry ${q(name)} has an invalid PAX ${key} "${s.slice(0, 40)}"`);
  return Number(s);
}

function xattrsFromPax(pax: Map<string, Buffer>, name: string): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const [k, v] of pax) {
    if (k.startsWith('SCHILY.xattr.')) {
      out.push([k.slice('SCHILY.xattr.'.length), v]);
    } else if (k.startsWith('LIBARCHIVE.xattr.')) {
      let xname: string;
      try { xname = decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length)); } catch {
        throw corrupt(`layer entry ${q(name)} has a malformed xattr name in PAX key ${q(k)}`);
      }
      out.push([xname, Buffer.from(v.toString('latin1'), 'base64')]);
    } else if (k.startsWith('GNU.sparse.')) {
      throw corrupt(`layer entry ${q(name)} is a sparse file, which is not supported`);
    }
  }
  return out;
}

/** Iterates the entries of a tar stream. Throws `corrupt` errors for malformed input. */
export async function* readTar(src: ByteSource): AsyncGenerator<TarEntry> {
  let pax: Map<string, Buffer> | undefined;
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  for (;;) {
    const at = src.pos;
    const blk = await src.read(BLOCK);
    if (blk.length < BLOCK) {
      if (blk.length === 0 && at === 0) return; // an empty stream is an empty layer
      if (at === 0) throw corrupt(`layer is not a tar archive (only ${blk.length} bytes)`);
      throw corrupt(blk.length === 0 && !pax && !longName && !longLink
        ? 'truncated layer: missing end-of-archive marker'
        : `truncated layer: unexpected end of data in tar header at offset ${at}`);
    }
    if (isZeroBlock(blk)) {
      if (pax || longName || longLink) throw corrupt(`corrupt layer: extended header without an entry at offset ${at}`);
      return;
    }
    const h = decodeHeader(blk, at);
    if (h.flag === 'x' || h.flag === 'g' || h.flag === 'L' || h.flag === 'K') {
      if (h.size > MAX_META) throw corrupt(`corrupt layer: extended header of ${h.size} bytes at offset ${at} is too large`);
      const body = await src.read(h.size);
      if (body.length < h.size) throw truncated(`extended header at offset ${at}`)();
      await src.skip(pad(h.size), truncated(`extended header at offset ${at}`));
      if (h.flag === 'x') pax = new Map([...(pax ?? []), ...parsePax(body, at)]);
      else if (h.flag === 'L') longName = nulTerminated(body);
      else if (h.flag === 'K') longLink = nulTerminated(body);
      // 'g' (global) records carry only comments in practice; ignored like Go's archive/tar.
      continue;
    }
    let name = (longName ?? h.name).toString('utf8');
    let linkname = (longLink ?? h.linkname).toString('utf8');
    let { uid, gid, size, mtime } = h;
    let atime: number | undefined;
    const p = pax ?? new Map<string, Buffer>();
    pax = longName = longLink = undefined;
    const pv = (k: string) => { const v = p.get(k); return v && v.length ? v : undefined; };
    if (pv('path')) name = pv('path')!.toString('utf8');
    if (pv('linkpath')) linkname = pv('linkpath')!.toString('utf8');
    let type = typeOfFlag(h.flag);
    if (!type) throw corrupt(`layer entry ${q(name)} has unsupported tar type ${q(h.flag)}`);
    if (pv('size')) size = decimal(pv('size')!, 'size', name, Number.MAX_SAFE_INTEGER);
    if (pv('uid')) uid = decimal(pv('uid')!, 'uid', name, 0xfffffffe);
    if (pv('gid')) gid = decimal(pv('gid')!, 'gid', name, 0xfffffffe);
    if (pv('mtime')) mtime = seconds(pv('mtime')!, 'mtime', name);
    if (pv('atime')) atime = seconds(pv('atime')!, 'atime', name);
    if (uid > 0xfffffffe || gid > 0xfffffffe) throw corrupt(`layer entry ${q(name)} has an out-of-range uid/gid`);
    // Header-only types carry no data (as in Go's archive/tar); a v7-style
    // directory (regular-file flag, name ending in "/") still skips its data.
    const dataSize = type === 'file' ? size : 0;
    if (type === 'file' && (h.flag === '0' || h.flag === '\0') && name.endsWith('/')) type = 'dir';
    if (type !== 'file') size = 0;
    const xattrs = xattrsFromPax(p, name);
    let left = dataSize;
    const onShort = truncated(`entry ${q(name)}`);
    let taken = false;
    const entry: TarEntry = {
      name, type, mode: h.mode, uid, gid, size, mtime, atime, linkname,
      devmajor: h.devmajor, devminor: h.devminor, xattrs,
      data: async function* () {
        if (taken) throw new Error('tar entry data read twice');
        taken = true;
        if (type !== 'file') return;
        for await (const b of src.slices(left, onShort)) { left -= b.length; yield b; }
      },
    };
    yield entry;
    await src.skip(left + pad(dataSize), onShort);
  }
}

function nulTerminated(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return i < 0 ? b : b.subarray(0, i);
}
