// Unpacks an OCI/Docker layer blob (tar, tar+gzip, tar+zstd; HOSTILE input)
// into a directory usable as an overlayfs lower layer.
//
// Guarantees:
// - Atomic: extraction happens in a private sibling temp dir `.tmp-<pid>-<hex>`,
//   renamed to `dest` on success and removed completely on any failure.
// - Nothing is ever written outside the layer: names are cleaned lexically and
//   refused when ".." escapes; leading "/" is stripped (like GNU tar).
// - Symlink-parent policy: symlinks are created as-is (any target) and never
//   followed on disk. When a later entry's parent path goes through a symlink
//   created earlier in this layer, the symlink is resolved within the layer
//   root as if chrooted (see paths.ts), so the entry lands inside the layer
//   where the container would see it (`etc -> /usr/etc` + `etc/x` writes
//   `<layer>/usr/etc/x`). This matches Docker/Podman, which extract in a chroot.
// - Hard links must name an entry already in this layer (resolved the same way).
// - OCI whiteouts: `.wh.<name>` -> char device 0:0 `<name>` (unless this layer
//   itself has `<name>`, which wins); `.wh..wh..opq` -> xattr
//   trusted.overlay.opaque=y on its directory; other `.wh..wh.*` markers are
//   ignored. A char device 0:0 entry is accepted as a whiteout even when
//   devices are not allowed. `trusted.overlay.*` / `user.overlay.*` xattrs in
//   the archive are dropped (they could forge overlay metadata).
// - Later duplicates replace earlier entries (a directory over a directory only
//   updates metadata). Directory metadata is applied in a final pass.
// - The tar is parsed strictly by tar-reader.ts (checksums, numeric fields,
//   PAX records; a missing end-of-archive marker is "truncated layer"); entries
//   are applied by extract.ts.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { corrupt, invalidArgument } from '../engine/errors.js';
import { decompressStream } from './compression.js';
import { Extractor, toBerthError } from './extract.js';
import { ByteSource, readTar } from './tar-reader.js';
import { egid, euid, pidAlive } from '../sys/fsutil.js';

export interface UnpackOptions {
  /** `sha256:<hex>` the uncompressed tar must hash to. */
  expectedDiffId?: string;
  /** Bound on the uncompressed size (default 64 GiB). */
  maxBytes?: number;
  /** Create device nodes and FIFOs (default true); when false they are refused. */
  allowDevices?: boolean;
}

export interface UnpackResult {
  /** `sha256:<hex>` of the uncompressed tar stream. */
  diffId: string;
  /** Uncompressed size in bytes. */
  size: number;
}

/** The largest layer (uncompressed) Berth accepts: a bound against decompression bombs. */
export const MAX_LAYER_BYTES = 64 * 1024 ** 3;
const q = (s: string) => JSON.stringify(s);

/** Where a layer goes: its directory, and the diff ID it must have (unchecked when absent). */
export interface LayerDestination { dest: string; diffId?: string }

/** Unpacks a layer blob into `dest` atomically; see the file comment for the rules. */
export async function unpackLayer(source: Readable, dest: string, opts: UnpackOptions = {}): Promise<UnpackResult> {
  if (!dest) throw invalidArgument('empty layer destination');
  const target = resolve(dest);
  const to: LayerDestination = { dest: target, ...(opts.expectedDiffId !== undefined ? { diffId: opts.expectedDiffId } : {}) };
  return (await unpackIn(source, dirname(target), opts, () => Promise.resolve(to)))!;
}

/**
 * unpackLayer for a layer whose destination and diff ID are known only later
 * (a pull unpacks while the image config, which names them, still downloads).
 * It unpacks into a temporary directory in `parent` and waits for
 * `destination` only at the end; undefined there throws the unpack away.
 */
export function unpackLayerLate(source: Readable, parent: string, destination: Promise<LayerDestination | undefined>, opts: Omit<UnpackOptions, 'expectedDiffId'> = {}): Promise<UnpackResult | undefined> {
  destination.catch(() => undefined); // may fail (the pull gave up) before the unpack gets to it: seen there, if ever
  return unpackIn(source, resolve(parent), opts, () => destination);
}

async function unpackIn(source: Readable, parent: string, opts: UnpackOptions, destination: () => Promise<LayerDestination | undefined>): Promise<UnpackResult | undefined> {
  // The source may fail before decompressStream listens (during the mkdirs below):
  // that error is seen there (a destroyed stream is refused), not thrown as an uncaught 'error' event.
  source.on('error', () => undefined);
  const maxBytes = opts.maxBytes ?? MAX_LAYER_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw invalidArgument(`invalid maxBytes ${maxBytes}`);
  checkDiffId(opts.expectedDiffId);
  await fsp.mkdir(parent, { recursive: true });
  const tmp = join(parent, `.tmp-${process.pid}-${randomBytes(8).toString('hex')}`);
  await fsp.mkdir(tmp, { mode: 0o700 });
  let stream: Readable | undefined;
  try {
    // Owned by us with plain 0755 so new entries never inherit a setgid group.
    await fsp.chown(tmp, euid(), egid());
    await fsp.chmod(tmp, 0o755);
    stream = await decompressStream(source);
    const hash = createHash('sha256');
    let size = 0;
    const src = new ByteSource(stream[Symbol.asyncIterator](), (b) => {
      size += b.length;
      if (size > maxBytes) throw corrupt(`layer exceeds ${maxBytes} bytes uncompressed`);
      hash.update(b);
    });
    const ex = new Extractor(tmp, opts.allowDevices ?? true);
    for await (const entry of readTar(src)) {
      try {
        await ex.apply(entry);
      } catch (e) {
        throw toBerthError(e, entry.name);
      }
    }
    await src.drain();
    ex.finish();
    const diffId = `sha256:${hash.digest('hex')}`;
    const to = await destination();
    if (!to) {
      await fsp.rm(tmp, { recursive: true, force: true });
      return undefined;
    }
    checkDiffId(to.diffId);
    if (to.diffId !== undefined && to.diffId !== diffId) {
      throw corrupt(`layer diffID mismatch: expected ${to.diffId}, got ${diffId}`);
    }
    try {
      await fsp.rename(tmp, resolve(to.dest));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      await fsp.rm(tmp, { recursive: true, force: true }); // unpacked concurrently by someone else
    }
    return { diffId, size };
  } catch (e) {
    stream?.destroy();
    source.destroy();
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw toBerthError(e);
  }
}

function checkDiffId(d: string | undefined): void {
  if (d !== undefined && !/^sha256:[0-9a-f]{64}$/.test(d)) throw invalidArgument(`invalid expected diffID ${q(d)}`);
}

/** Removes `.tmp-<pid>-*` leftovers in `dir` whose process is gone; returns the removed paths. */
export async function sweepStaleTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = /^\.tmp-(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    const p = join(dir, name);
    await fsp.rm(p, { recursive: true, force: true });
    removed.push(p);
  }
  return removed;
}
