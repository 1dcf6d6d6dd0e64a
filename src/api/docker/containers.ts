// /containers: create, list, inspect, start, stop, kill, restart, remove, rename,
// update, pause, unpause, top, changes, prune, resize. Every call reads the
// container from the Engine afresh; the streams (attach, wait, logs, stats,
// archive, export) are in containers-io.ts.
import type { Call, Router } from './router.js';
import { qBool, qFilters, qInt, qStr, readJson } from './router.js';
import { noContent, ok, send } from './respond.js';
import { ApiError, noSuchContainer, noSuchImage, orNotFound } from './errors.js';
import { translateCreate, resources } from './translate.js';
import { containerInspect, containerMatches, containerSummary } from './views.js';
import { startWithClients } from './containers-io.js';
import type { ContainerRecord } from '../../engine/container-types.js';
import { isBerthError } from '../../engine/errors.js';
import { parseReference } from '../../image/reference.js';

/** The container a call names (full ID, unique prefix, name or /name), or moby's 404. */
export function container(c: Call): ContainerRecord {
  const ref = c.params.id!.replace(/^\//, '');
  try {
    return c.engine.getContainer(ref);
  } catch (e) {
    throw orNotFound(e, noSuchContainer(c.params.id!));
  }
}

const active = (rec: ContainerRecord) => rec.state === 'running' || rec.state === 'paused';

/** `busybox` → `busybox:latest`, as moby names a missing image. */
function withTag(ref: string): string {
  try {
    const r = parseReference(ref);
    return r.digest || r.tag ? ref : `${ref}:latest`;
  } catch {
    return ref;
  }
}

async function create(c: Call): Promise<void> {
  const body = await readJson(c);
  const { options, warnings } = translateCreate(body, qStr(c, 'name'));
  // 404 makes the docker CLI pull the image and try again.
  if (!c.engine.imageExists(options.image)) throw noSuchImage(withTag(options.image));
  try {
    const rec = await c.engine.createContainer(options);
    ok(c, { Id: rec.config.id, Warnings: warnings }, 201);
  } catch (e) {
    if (isBerthError(e, 'conflict') && options.name && c.engine.containerExists(options.name)) {
      const other = c.engine.getContainer(options.name).config.id;
      throw new ApiError(409, `Conflict. The container name "/${options.name}" is already in use by container "${other}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    throw e;
  }
}

function list(c: Call): void {
  const filters = qFilters(c);
  const limit = qInt(c, 'limit');
  const all = qBool(c, 'all') || (limit !== undefined && limit > 0) || filters.has('status') || filters.has('exited');
  let recs = c.engine.listContainers({ all }).filter((r) => containerMatches(c.engine, r, filters));
  recs.sort((a, b) => Date.parse(b.config.created) - Date.parse(a.config.created));
  if (limit !== undefined && limit > 0) recs = recs.slice(0, limit);
  ok(c, recs.map((r) => containerSummary(c.engine, r)));
}

function inspect(c: Call): void {
  const rec = container(c);
  const view = containerInspect(c.engine, rec);
  view.ExecIDs = c.state.execs.ofContainer(rec.config.id);
  if (!(view.ExecIDs as string[]).length) view.ExecIDs = null;
  if (qBool(c, 'size')) Object.assign(view, { SizeRw: 0, SizeRootFs: 0 });
  ok(c, view);
}

async function start(c: Call): Promise<void> {
  const rec = container(c);
  if (active(rec)) return noContent(c, 304);
  const id = rec.config.id;
  const clients = c.state.attaches.take(id);
  if (clients.length) return startWithClients(c, rec, clients);
  try {
    await c.engine.startContainer(id);
  } catch (e) {
    // moby removes an AutoRemove container whose start failed, so `run --rm` leaves nothing.
    if (rec.config.autoRemove) await c.engine.removeContainer(id, { force: true }).catch(() => undefined);
    throw e;
  }
  c.state.runs.started(id);
  noContent(c);
}

/** `t` from the query, or from a JSON body ({"t":0}, as testcontainers sends). */
async function timeout(c: Call): Promise<number | undefined> {
  const q = qInt(c, 't') ?? qInt(c, 'timeout');
  if (q !== undefined) return q < 0 ? undefined : q;
  const body = await readJson(c).catch(() => ({} as Record<string, unknown>));
  return typeof body.t === 'number' && body.t >= 0 ? body.t : undefined;
}

async function stop(c: Call): Promise<void> {
  const rec = container(c);
  const t = await timeout(c);
  const signal = qStr(c, 'signal');
  if (signal && active(rec)) {
    // stop -s SIG: that signal first, then KILL after the timeout (the Engine stops with the configured one).
    await c.engine.killContainer(rec.config.id, signal).catch(() => undefined);
    const waited = new AbortController();
    const timer = setTimeout(() => waited.abort(), (t ?? rec.config.stopTimeout) * 1000);
    await c.engine.waitContainer(rec.config.id, waited.signal).catch(() => undefined);
    clearTimeout(timer);
  }
  const stopped = await c.engine.stopContainer(rec.config.id, signal ? 0 : t);
  noContent(c, stopped || (signal && active(rec)) ? 204 : 304);
}

async function kill(c: Call): Promise<void> {
  const rec = container(c);
  if (!active(rec)) throw new ApiError(409, `cannot kill container: ${c.params.id}: container ${rec.config.id} is not running`);
  await c.engine.killContainer(rec.config.id, qStr(c, 'signal') ?? 'KILL');
  noContent(c);
}

async function restart(c: Call): Promise<void> {
  const rec = container(c);
  await c.engine.restartContainer(rec.config.id, await timeout(c));
  c.state.runs.started(rec.config.id);
  noContent(c);
}

async function remove(c: Call): Promise<void> {
  const rec = container(c);
  const force = qBool(c, 'force');
  if (active(rec) && !force) {
    throw new ApiError(409, `cannot remove container "/${rec.config.name}": container is running: stop the container before removing or force remove`);
  }
  await c.engine.removeContainer(rec.config.id, { force, volumes: qBool(c, 'v') });
  noContent(c);
}

async function rename(c: Call): Promise<void> {
  const rec = container(c);
  const name = qStr(c, 'name');
  if (!name) throw new ApiError(400, 'rename needs the new name: ?name=NEW');
  await c.engine.renameContainer(rec.config.id, name.replace(/^\//, ''));
  noContent(c);
}

async function update(c: Call): Promise<void> {
  const rec = container(c);
  const body = await readJson(c);
  await c.engine.updateContainer(rec.config.id, resources(body, 'body'));
  // The CLI always sends a RestartPolicy; only a named one asks for a change.
  const policy = body.RestartPolicy as { Name?: unknown } | undefined;
  const warnings = policy?.Name ? ['changing the restart policy of an existing container is not supported by Berth yet; it was kept'] : [];
  ok(c, { Warnings: warnings });
}

async function pause(c: Call): Promise<void> {
  await c.engine.pauseContainer(container(c).config.id);
  noContent(c);
}

async function unpause(c: Call): Promise<void> {
  await c.engine.unpauseContainer(container(c).config.id);
  noContent(c);
}

async function top(c: Call): Promise<void> {
  const rec = container(c);
  if (!active(rec)) throw new ApiError(409, `container ${rec.config.id} is not running`);
  const args = (qStr(c, 'ps_args') ?? '').split(/\s+/).filter(Boolean);
  ok(c, await c.engine.topContainer(rec.config.id, args));
}

function changes(c: Call): void {
  const kinds = { C: 0, A: 1, D: 2 } as const;
  ok(c, c.engine.containerChanges(container(c).config.id).map((ch) => ({ Path: ch.Path, Kind: kinds[ch.Kind] })));
}

async function prune(c: Call): Promise<void> {
  const r = await c.engine.pruneContainers();
  ok(c, { ContainersDeleted: r.removed, SpaceReclaimed: r.reclaimed });
}

function resize(c: Call): void {
  const rec = container(c);
  const h = qInt(c, 'h'), w = qInt(c, 'w');
  if (h === undefined || w === undefined || h < 0 || w < 0) throw new ApiError(400, 'resize needs h and w (rows and columns)');
  c.engine.resizeContainer(rec.config.id, h, w);
  send(c, 200);
}

export function containerRoutes(r: Router): void {
  r.add('POST', '/containers/create', create)
    .add('GET', '/containers/json', list)
    .add('POST', '/containers/prune', prune)
    .add('GET', '/containers/:id/json', inspect)
    .add('POST', '/containers/:id/start', start)
    .add('POST', '/containers/:id/stop', stop)
    .add('POST', '/containers/:id/kill', kill)
    .add('POST', '/containers/:id/restart', restart)
    .add('DELETE', '/containers/:id', remove)
    .add('POST', '/containers/:id/rename', rename)
    .add('POST', '/containers/:id/update', update)
    .add('POST', '/containers/:id/pause', pause)
    .add('POST', '/containers/:id/unpause', unpause)
    .add('GET', '/containers/:id/top', top)
    .add('GET', '/containers/:id/changes', changes)
    .add('POST', '/containers/:id/resize', resize);
}
