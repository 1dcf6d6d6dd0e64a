// Volume actions behind `berth volume …` (and the Docker API's /volumes): create,
// list with filters, inspect, remove (with --force, the containers using it too), prune.
import type { EngineContext } from './context.js';
import { conflict, invalidArgument, isBerthError, notFound } from './errors.js';
import { newId } from './names.js';
import { parseDuration } from './parse.js';
import { removeContainer } from './lifecycle.js';
import { destroyVolume, inUseError, newRecord, volumeSource } from './volume-mounts.js';
import { writeTx } from '../store/db.js';
import { VOLUME_NAME_RE, type VolumeRecord } from '../volume/store.js';
import { createVolumeDir, removeDir, validateLocalOptions } from '../volume/local.js';

export interface VolumeCreateOptions {
  name?: string;
  driver?: string;
  labels?: Record<string, string>;
  /** Driver options (local: type, device, o). */
  options?: Record<string, string>;
  /** Return the existing volume instead of failing when the name is taken. */
  ignoreIfExists?: boolean;
}

export function createVolume(ctx: EngineContext, o: VolumeCreateOptions): Record<string, unknown> {
  const driver = o.driver || 'local';
  if (driver !== 'local') throw invalidArgument(`volume driver "${driver}" is not available: use the local driver`);
  const name = o.name ?? newId();
  if (!VOLUME_NAME_RE.test(name)) throw invalidArgument(`invalid volume name "${name}": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
  const options = o.options ?? {};
  validateLocalOptions(options);
  const created = writeTx(ctx.db, () => {
    if (!ctx.volumes.insertIfAbsent(newRecord(name, { anonymous: false, labels: o.labels ?? {}, options }))) {
      if (o.ignoreIfExists) return false;
      throw conflict(`volume with name ${name} already exists: choose another name, or remove it first`);
    }
    try {
      createVolumeDir(ctx.paths.volume(name));
    } catch (e) {
      removeDir(ctx.paths.volume(name));
      throw e;
    }
    return true;
  });
  if (created) ctx.events.record('volume', 'create', name, name, { driver });
  return inspectVolume(ctx, name);
}

export function volumeExists(ctx: EngineContext, name: string): boolean {
  return ctx.volumes.get(name) !== undefined;
}

export function inspectVolume(ctx: EngineContext, name: string): Record<string, unknown> {
  const v = ctx.volumes.get(name);
  if (!v) throw notFound(`no volume with name "${name}" found: no such volume`);
  return volumeView(ctx, v, ctx.volumes.users(name), mountedContainers(ctx));
}

function mountedContainers(ctx: EngineContext): Set<string> {
  return new Set(ctx.containers.list().filter((r) => r.status.mounted).map((r) => r.config.id));
}

/** Docker's volume object, plus Podman's extra fields. */
function volumeView(ctx: EngineContext, v: VolumeRecord, users: string[], mounted: Set<string>): Record<string, unknown> {
  return {
    Name: v.name,
    Driver: v.driver,
    Mountpoint: volumeSource(ctx, v.name),
    CreatedAt: v.created,
    Labels: v.labels,
    Scope: 'local',
    Options: v.options,
    MountCount: users.filter((u) => mounted.has(u)).length,
    NeedsCopyUp: v.needsCopyUp,
    Anonymous: v.anonymous,
    Containers: users.length,
  };
}

// ---------- filters ----------

const LIST_FILTERS = ['name', 'label', 'label!', 'driver', 'dangling', 'opt', 'scope', 'until', 'anonymous'];
const PRUNE_FILTERS = ['label', 'label!', 'until'];

type Filter = { key: string; value: string };

function parseFilters(filters: string[], allowed: string[]): Filter[] {
  return filters.map((f) => {
    const i = f.indexOf('=');
    const key = i < 0 ? f : f.slice(0, i);
    if (i < 0 || !allowed.includes(key)) throw invalidArgument(`invalid volume filter "${f}": use ${allowed.map((k) => `${k}=…`).join(', ')}`);
    const value = f.slice(i + 1);
    if ((key === 'dangling' || key === 'anonymous') && !/^(true|false|1|0)$/.test(value)) {
      throw invalidArgument(`invalid volume filter "${f}": ${key} must be true or false`);
    }
    if (key === 'until') cutoff(value);
    return { key, value };
  });
}

/** `until=` as unix seconds, an RFC 3339 time, or a duration ago (10m, 24h). */
function cutoff(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  if (!Number.isNaN(t)) return t;
  return Date.now() - parseDuration(value, 'until filter');
}

function matchKeyValue(map: Record<string, string>, want: string): boolean {
  const i = want.indexOf('=');
  return i < 0 ? want in map : map[want.slice(0, i)] === want.slice(i + 1);
}

function matchOne(v: VolumeRecord, used: boolean, f: Filter): boolean {
  const yes = f.value === 'true' || f.value === '1';
  switch (f.key) {
    case 'name': return v.name === f.value || safeRegex(f.value).test(v.name);
    case 'label': return matchKeyValue(v.labels, f.value);
    case 'label!': return !matchKeyValue(v.labels, f.value);
    case 'driver': return v.driver === f.value;
    case 'dangling': return used !== yes;
    case 'anonymous': return v.anonymous === yes;
    case 'opt': return matchKeyValue(v.options, f.value);
    case 'scope': return f.value === 'local';
    case 'until': return Date.parse(v.created) < cutoff(f.value);
    default: return false;
  }
}

function safeRegex(s: string): RegExp {
  try { return new RegExp(s); } catch { throw invalidArgument(`invalid volume filter name="${s}": not a valid regular expression`); }
}

/** Filters with the same key are alternatives, except labels, which must all match (as Docker and Podman). */
function matches(v: VolumeRecord, used: boolean, filters: Filter[]): boolean {
  const byKey = new Map<string, Filter[]>();
  for (const f of filters) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f]);
  for (const [key, group] of byKey) {
    const all = key === 'label' || key === 'label!';
    if (all ? !group.every((f) => matchOne(v, used, f)) : !group.some((f) => matchOne(v, used, f))) return false;
  }
  return true;
}

export function listVolumes(ctx: EngineContext, filters: string[] = []): Record<string, unknown>[] {
  const fs = parseFilters(filters, LIST_FILTERS);
  const users = ctx.volumes.allUsers();
  const mounted = mountedContainers(ctx);
  return ctx.volumes.list().filter((v) => matches(v, users.has(v.name), fs)).map((v) => volumeView(ctx, v, users.get(v.name) ?? [], mounted));
}

// ---------- remove / prune ----------

/** Removes a volume; with `force`, first removes (stopping them if needed) the containers that use it, as Podman. */
export async function removeVolume(ctx: EngineContext, name: string, force: boolean): Promise<void> {
  if (!ctx.volumes.get(name)) throw notFound(`no volume with name "${name}" found: no such volume`);
  const users = ctx.volumes.users(name);
  if (users.length && !force) throw inUseError(name, users);
  for (const id of users) await removeContainer(ctx, id, true);
  await destroyVolume(ctx, name);
}

/** Removes every volume no container uses (named ones too, as Podman) that matches the filters; returns their names. */
export async function pruneVolumes(ctx: EngineContext, filters: string[] = []): Promise<string[]> {
  const fs = parseFilters(filters, PRUNE_FILTERS);
  const users = ctx.volumes.allUsers();
  const removed: string[] = [];
  for (const v of ctx.volumes.list()) {
    if (users.has(v.name) || !matches(v, false, fs)) continue;
    try {
      await destroyVolume(ctx, v.name);
      removed.push(v.name);
    } catch (e) {
      // Taken into use (or removed) by another command meanwhile: not prunable any more.
      if (!isBerthError(e, 'conflict') && !isBerthError(e, 'not-found')) throw e;
    }
  }
  return removed;
}
