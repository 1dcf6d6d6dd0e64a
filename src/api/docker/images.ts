// /images and /commit: list, inspect, history, tag, remove, prune, save (get),
// load, import and pull (create), push, and commit.
import type { Call, Router } from './router.js';
import { qBool, qFilters, qStr } from './router.js';
import { commonHeaders, ok, send, startJsonStream } from './respond.js';
import { ApiError, noSuchContainer, noSuchImage, orNotFound } from './errors.js';
import { familiarTags, imageInspect, imageSummaries } from './views.js';
import { familiarName } from '../../image/reference.js';
import { messageOf } from '../../engine/errors.js';
import { log } from '../../sys/log.js';
import { pullImage, pushImage, searchImages } from './registry.js';

const sha = (id: string) => (id.startsWith('sha256:') ? id : `sha256:${id}`);

/** The image a call names, checked (moby's 404 text: "No such image: busybox:latest"). */
function imageRef(c: Call): string {
  const ref = c.params.name!;
  let exists: boolean;
  try { exists = c.engine.imageExists(ref); } catch { exists = false; }
  if (!exists) throw noSuchImage(ref.includes(':') || ref.includes('@') ? ref : `${ref}:latest`);
  return ref;
}

/** Docker's reference filter: a glob over the familiar name, with or without the tag. */
function referenceMatch(pattern: string, names: string[]): boolean {
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
  return names.some((n) => re.test(n) || re.test(n.replace(/:[^:/]+$/, '')));
}

function list(c: Call): void {
  const f = qFilters(c);
  let rows = imageSummaries(c.engine);
  const dangling = f.get('dangling')?.[0];
  if (dangling !== undefined) rows = rows.filter((r) => ((r.RepoTags as string[]).length === 0) === (dangling === 'true' || dangling === '1'));
  for (const pattern of f.get('reference') ?? []) rows = rows.filter((r) => referenceMatch(pattern, r.RepoTags as string[]));
  for (const l of f.get('label') ?? []) {
    const i = l.indexOf('=');
    rows = rows.filter((r) => {
      const labels = (r.Labels ?? {}) as Record<string, string>;
      return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
    });
  }
  ok(c, rows);
}

function inspect(c: Call): void {
  ok(c, imageInspect(c.engine, imageRef(c)));
}

function history(c: Call): void {
  const rows = c.engine.imageHistory(imageRef(c));
  ok(c, rows.map((r) => ({
    Id: r.ID === '<missing>' ? '<missing>' : sha(c.engine.inspectImage(c.params.name!).Id as string),
    Created: r.Created ? Math.floor(Date.parse(r.Created) / 1000) : 0,
    CreatedBy: r.CreatedBy, Tags: r.Tags ? familiarTags(r.Tags) : null, Size: r.Size, Comment: r.Comment,
  })));
}

function tag(c: Call): void {
  const ref = imageRef(c);
  const repo = qStr(c, 'repo');
  if (!repo) throw new ApiError(400, 'tag needs a repository: ?repo=NAME&tag=TAG');
  c.engine.tagImage(ref, [`${repo}:${qStr(c, 'tag') ?? 'latest'}`]);
  send(c, 201);
}

async function remove(c: Call): Promise<void> {
  const ref = imageRef(c);
  const r = await c.engine.removeImage(ref, { force: qBool(c, 'force') });
  ok(c, [...r.untagged.map((n) => ({ Untagged: familiarName(n) })), ...r.deleted.map((id) => ({ Deleted: sha(id) }))]);
}

async function prune(c: Call): Promise<void> {
  const dangling = qFilters(c).get('dangling')?.[0];
  const r = await c.engine.pruneImages({ all: dangling === 'false' || dangling === '0' });
  ok(c, { ImagesDeleted: r.deleted.map((id) => ({ Deleted: sha(id) })), SpaceReclaimed: r.reclaimed });
}

/** docker save: one archive with every named image (docker-archive). */
async function save(c: Call): Promise<void> {
  const names = c.params.name ? [c.params.name] : c.query.getAll('names');
  if (!names.length) throw new ApiError(400, 'name at least one image: ?names=busybox');
  for (const n of names) {
    let exists = false;
    try { exists = c.engine.imageExists(n); } catch { /* invalid name */ }
    if (!exists) throw noSuchImage(n);
  }
  const res = c.res!;
  res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/x-tar' });
  try {
    await c.engine.saveImages(names, 'docker-archive', res);
    res.end();
  } catch (e) {
    log.warn(`api: save ${names.join(' ')}: ${messageOf(e)}`);
    res.destroy();
  }
}

/** docker load: the answer is JSON lines the CLI prints ("Loaded image: busybox:latest"). */
async function load(c: Call): Promise<void> {
  const r = await c.engine.loadImages(c.req);
  const out = startJsonStream(c);
  for (const n of r.names) await out.write({ stream: `Loaded image: ${familiarName(n)}\n` });
  if (!r.names.length) for (const id of r.ids) await out.write({ stream: `Loaded image ID: ${sha(id)}\n` });
  out.end();
}

/** POST /images/create: pull (fromImage) or import (fromSrc=-). */
async function create(c: Call): Promise<void> {
  const fromSrc = qStr(c, 'fromSrc');
  if (fromSrc !== undefined) {
    if (fromSrc !== '-') throw new ApiError(400, 'importing from a URL is not supported: send the tarball as the request body (fromSrc=-)');
    const repo = qStr(c, 'repo');
    const reference = repo ? `${repo}:${qStr(c, 'tag') ?? 'latest'}` : undefined;
    const r = await c.engine.importImage(c.req, { reference, changes: c.query.getAll('changes'), message: qStr(c, 'message') });
    const out = startJsonStream(c);
    await out.write({ status: sha(r.id) });
    return out.end();
  }
  const fromImage = qStr(c, 'fromImage');
  if (!fromImage) throw new ApiError(400, 'give the image to pull (?fromImage=busybox&tag=latest) or a tarball to import (?fromSrc=-)');
  const tagOrDigest = qStr(c, 'tag');
  const ref = tagOrDigest ? (tagOrDigest.startsWith('sha256:') ? `${fromImage}@${tagOrDigest}` : `${fromImage}:${tagOrDigest}`) : fromImage;
  await pullImage(c, ref);
}

async function push(c: Call): Promise<void> {
  const ref = imageRef(c);
  const tagName = qStr(c, 'tag');
  await pushImage(c, tagName ? `${ref.replace(/:[^:/]+$/, '')}:${tagName}` : ref);
}

async function commit(c: Call): Promise<void> {
  const ref = qStr(c, 'container');
  if (!ref) throw new ApiError(400, 'commit needs a container: ?container=NAME');
  if (!c.engine.containerExists(ref)) throw noSuchContainer(ref);
  const repo = qStr(c, 'repo');
  try {
    const r = await c.engine.commitContainer(ref, {
      reference: repo ? `${repo}:${qStr(c, 'tag') ?? 'latest'}` : undefined,
      changes: c.query.getAll('changes').flatMap((s) => s.split('\n')).filter(Boolean),
      message: qStr(c, 'comment'), author: qStr(c, 'author'), pause: qBool(c, 'pause', true),
    });
    ok(c, { Id: sha(r.id) }, 201);
  } catch (e) {
    throw orNotFound(e, noSuchContainer(ref));
  }
}

function build(): void {
  throw new ApiError(501, 'building images is not supported by Berth yet: build elsewhere and docker load the result');
}

export function imageRoutes(r: Router): void {
  r.add('GET', '/images/json', list)
    .add('POST', '/images/create', create)
    .add('GET', '/images/get', save)
    .add('POST', '/images/load', load)
    .add('POST', '/images/prune', prune)
    .add('GET', '/images/search', searchImages)
    .add('POST', '/commit', commit)
    .add('POST', '/build', build)
    .add('POST', '/build/prune', (c) => ok(c, { CachesDeleted: [], SpaceReclaimed: 0 }))
    .add('GET', '/images/:name*/json', inspect)
    .add('GET', '/images/:name*/history', history)
    .add('GET', '/images/:name*/get', save)
    .add('POST', '/images/:name*/tag', tag)
    .add('POST', '/images/:name*/push', push)
    .add('DELETE', '/images/:name*', remove);
}
