// Overlay snapshots: a container's root is an overlayfs mount of its own
// upper/work directories over the image's shared, read-only layer directories.
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../sys/exec.js';
import { BerthError } from '../engine/errors.js';
import { libc } from '../sys/libc.js';

// The mount(2) option string is limited to one page; lower dirs are given
// relative to the layers directory (the mount runs there) to fit more layers.
const MAX_OPTIONS = 4000;
const EINVAL = 22;
let volatileSupported: boolean | undefined;

export interface OverlayDirs { upper: string; work: string; merged: string }

export function overlayDirs(containerDir: string): OverlayDirs {
  return { upper: path.join(containerDir, 'upper'), work: path.join(containerDir, 'work'), merged: path.join(containerDir, 'rootfs') };
}

export function prepareOverlay(containerDir: string): OverlayDirs {
  const d = overlayDirs(containerDir);
  for (const dir of [d.upper, d.work, d.merged]) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  return d;
}

/**
 * Mounts the container's root. `lowerChainIds` are ordered bottom (base) to top.
 * `volatile` (as Podman does for --rm containers, whose writes never outlive
 * them): overlayfs skips every sync of the upper directory, so the unmount no
 * longer syncs the whole filesystem under it (~10 ms).
 */
export async function mountOverlay(layersDir: string, lowerChainIds: string[], d: OverlayDirs, opts: { volatile?: boolean } = {}): Promise<void> {
  if (isMounted(d.merged)) return;
  // A volatile mount leaves this marker, and overlayfs refuses to mount the directories
  // again while it is there. Only disposable (--rm) containers ever have one.
  const marker = path.join(d.work, 'work', 'incompat', 'volatile');
  if (fs.existsSync(marker)) fs.rmSync(marker, { recursive: true, force: true });
  const lowers = lowerChainIds.length ? [...lowerChainIds].reverse() : [emptyLayer(layersDir)];
  const options = `lowerdir=${lowers.join(':')},upperdir=${d.upper},workdir=${d.work}${opts.volatile && volatileSupported !== false ? ',volatile' : ''}`;
  if (options.length > MAX_OPTIONS) {
    throw new BerthError('invalid-argument', `image has too many layers (${lowerChainIds.length}) for one overlay mount; squash it`);
  }
  // mount(2) through the FFI (~2 ms to load) is cheaper than spawning mount(8); relative
  // lower dirs resolve against the caller's working directory, so mount from the layers dir.
  let cwd = '/';
  try { cwd = process.cwd(); } catch { /* the caller's directory was removed */ }
  process.chdir(layersDir);
  let rc: number;
  try {
    rc = libc().mount('overlay', d.merged, 'overlay', 0, options) as number;
  } finally {
    try { process.chdir(cwd); } catch { process.chdir('/'); }
  }
  if (rc !== 0 && opts.volatile && volatileSupported === undefined && libc().errno() === EINVAL) {
    volatileSupported = false; // a kernel before 5.10
    return mountOverlay(layersDir, lowerChainIds, d, opts);
  }
  if (rc !== 0) {
    const err = libc().errno();
    throw new BerthError('runtime', `cannot mount the container's root (errno ${err}): overlayfs must be available and the layer directories intact; run "berth system check"`);
  }
}

export async function unmountOverlay(merged: string): Promise<void> {
  if (!isMounted(merged)) return;
  if ((libc().umount2(merged, 0) as number) === 0) return;
  const r = await run('umount', [merged], { allowFailure: true });
  if (r.code !== 0 && isMounted(merged)) {
    // Busy (something still has a file open): detach it so the container can be removed.
    await run('umount', ['-l', merged]);
  }
}

function emptyLayer(layersDir: string): string {
  const dir = path.join(layersDir, 'empty');
  fs.mkdirSync(dir, { recursive: true });
  return 'empty';
}

/** True when `p` is a mount point (per /proc/self/mountinfo). */
export function isMounted(p: string): boolean {
  return mountPoints().has(p);
}

export function mountPoints(): Set<string> {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const set = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f[4]) set.add(unescapeMount(f[4]));
  }
  return set;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}
