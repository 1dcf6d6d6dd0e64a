// Resolves `--user` (name, uid, name:group, uid:gid) against the container's own
// /etc/passwd and /etc/group, read inside its root without following links out.
import { secureJoin } from '../sys/securejoin.js';
import { readRegularFile } from '../sys/fsutil.js';
import { BerthError } from '../engine/errors.js';
import type { ResolvedUser } from './spec.js';

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

function readLines(rootfs: string, file: string): string[][] {
  // The image controls these files: they may be FIFOs, devices or huge.
  const text = readRegularFile(secureJoin(rootfs, file)) ?? '';
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

function passwd(rootfs: string): PasswdEntry[] {
  return readLines(rootfs, '/etc/passwd').filter((f) => f.length >= 6)
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }));
}

function groups(rootfs: string): GroupEntry[] {
  return readLines(rootfs, '/etc/group').filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

const isNum = (s: string) => /^\d+$/.test(s);

export function resolveUser(rootfs: string, spec: string, groupAdd: string[] = []): ResolvedUser {
  const [userPart = '', groupPart] = spec.split(':', 2);
  const users = passwd(rootfs);
  let uid = 0, gid = 0, home = '/', name: string | undefined;
  if (userPart === '' || isNum(userPart)) {
    uid = userPart === '' ? 0 : Number(userPart);
    const entry = users.find((u) => u.uid === uid);
    if (entry) { gid = entry.gid; home = entry.home; name = entry.name; }
    else if (uid === 0) home = '/root';
  } else {
    const entry = users.find((u) => u.name === userPart);
    if (!entry) throw new BerthError('cannot-invoke', `unable to find user ${userPart}: no matching entries in passwd file`);
    ({ uid, gid, home, name } = entry);
  }
  const allGroups = groupPart !== undefined || groupAdd.length || name ? groups(rootfs) : [];
  const lookupGroup = (g: string): number => {
    if (isNum(g)) return Number(g);
    const entry = allGroups.find((x) => x.name === g);
    if (!entry) throw new BerthError('cannot-invoke', `unable to find group ${g}: no matching entries in group file`);
    return entry.gid;
  };
  if (groupPart !== undefined && groupPart !== '') gid = lookupGroup(groupPart);
  const additional = new Set<number>();
  if (name && groupPart === undefined) {
    for (const g of allGroups) if (g.members.includes(name)) additional.add(g.gid);
  }
  for (const g of groupAdd) additional.add(lookupGroup(g));
  additional.delete(gid);
  return { uid, gid, additionalGids: [gid, ...additional], home: home || '/' };
}
