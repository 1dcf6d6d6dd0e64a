// The local volume driver, as Docker's: a plain directory <root>/volumes/<name>/_data,
// or, with type/device/o options, a filesystem mount(8)ed on _data while at
// least one container uses the volume (tmpfs, a bind of another path, nfs, …).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../sys/exec.js';
import { BerthError, invalidArgument } from '../engine/errors.js';
import { isMounted } from '../snapshot/overlay.js';

const OPTION_KEYS = ['type', 'device', 'o'];
const EXAMPLE = 'e.g. --opt type=tmpfs --opt device=tmpfs --opt o=size=64m';

/** Checks local-driver options the way Docker does: only type, device and o; type and device together. */
export function validateLocalOptions(opts: Record<string, string>): void {
  const keys = Object.keys(opts);
  for (const k of keys) {
    if (k === 'size') throw invalidArgument(`volume option "size" (a disk quota) is not supported: for a size-limited volume use a tmpfs, ${EXAMPLE}`);
    if (!OPTION_KEYS.includes(k)) throw invalidArgument(`invalid volume option "${k}" for driver "local": use type, device and o (${EXAMPLE})`);
    const v = opts[k]!;
    if (v === '' || /[\0\n]/.test(v)) throw invalidArgument(`invalid value "${v}" for volume option "${k}": it must be a non-empty single line`);
  }
  if (!keys.length) return;
  if (!opts.type || !opts.device) {
    throw invalidArgument(`volume options need both "type" and "device" (missing ${!opts.type ? 'type' : 'device'}): ${EXAMPLE}`);
  }
  if (!/^[a-zA-Z0-9_.+-]+$/.test(opts.type)) throw invalidArgument(`invalid filesystem type "${opts.type}" in volume option "type"`);
}

/** Volumes with options are mounted on use; plain ones are just a directory. */
export function needsMount(options: Record<string, string>): boolean {
  return !!options.type;
}

export function dataDir(volumeDir: string): string {
  return path.join(volumeDir, '_data');
}

export function createVolumeDir(volumeDir: string): void {
  fs.mkdirSync(path.dirname(volumeDir), { recursive: true, mode: 0o700 });
  try {
    fs.mkdirSync(volumeDir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Left by a create that was killed before its record was committed.
    if (isMounted(dataDir(volumeDir))) throw new BerthError('conflict', `${dataDir(volumeDir)} is still mounted: unmount it, then try again`);
    fs.rmSync(volumeDir, { recursive: true, force: true });
    fs.mkdirSync(volumeDir, { mode: 0o700 });
  }
  fs.mkdirSync(dataDir(volumeDir), { mode: 0o755 });
}

/**
 * Moves a volume's directory out of the way (atomic, so it can run inside the
 * database transaction that deletes the record); returns the path to delete.
 */
export function trashVolumeDir(volumeDir: string): string | undefined {
  const trash = path.join(path.dirname(volumeDir), `.trash-${randomBytes(8).toString('hex')}`);
  try {
    fs.renameSync(volumeDir, trash);
    return trash;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function removeDir(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

export async function mountLocal(name: string, options: Record<string, string>, data: string): Promise<void> {
  if (isMounted(data)) return;
  const args = ['-t', options.type!, ...(options.o ? ['-o', options.o] : []), '--', options.device!, data];
  const r = await run('mount', args, { allowFailure: true });
  if (r.code !== 0) {
    const why = (r.stderr.trim().split('\n').pop() ?? '').trim() || `exit status ${r.code}`;
    const shown = Object.entries(options).map(([k, v]) => `${k}=${v}`).join(',');
    throw new BerthError('runtime', `cannot mount volume ${name} (${shown}): ${why}; fix its options: remove it and create it again`);
  }
}

export async function unmountLocal(data: string): Promise<void> {
  if (!isMounted(data)) return;
  const r = await run('umount', [data], { allowFailure: true });
  // Busy (a file still open somewhere): detach it so the volume can be reused or removed.
  if (r.code !== 0 && isMounted(data)) await run('umount', ['-l', data]);
}

export function isEmptyDir(dir: string): boolean {
  return fs.readdirSync(dir).length === 0;
}

/** Copies a directory's content (owners, modes, times, symlinks, xattrs) and its own attributes into `data`. */
export async function seedFrom(src: string, data: string): Promise<void> {
  await run('cp', ['-a', '--', `${src}/.`, `${data}/`], { hint: 'while copying the image content into a new volume' });
}
