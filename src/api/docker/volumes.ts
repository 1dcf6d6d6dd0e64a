// /volumes: create, list, inspect, remove, prune (Docker's shapes; the Engine's
// volume objects already carry Docker's field names).
import type { Call, Router } from './router.js';
import { qBool, qFilters, readJson } from './router.js';
import { noContent, ok } from './respond.js';
import { ApiError, noSuchVolume } from './errors.js';
import { string, stringMap } from './translate.js';

/** Docker's view: the Engine's object without Podman's extras. */
function view(v: Record<string, unknown>): Record<string, unknown> {
  return {
    Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, CreatedAt: v.CreatedAt, Labels: v.Labels ?? {},
    Scope: 'local', Options: v.Options ?? {}, UsageData: null,
  };
}

/** Docker's filter map as the Engine's KEY=VALUE list. */
function filterList(f: Map<string, string[]>, allowed: string[]): string[] {
  const out: string[] = [];
  for (const [k, values] of f) {
    if (!allowed.includes(k)) throw new ApiError(400, `invalid filter '${k}'`);
    for (const v of values) out.push(`${k}=${v}`);
  }
  return out;
}

async function create(c: Call): Promise<void> {
  const body = await readJson(c);
  const name = string(body.Name, 'Name') || undefined;
  const v = c.engine.createVolume({
    name, driver: string(body.Driver, 'Driver') || 'local',
    labels: stringMap(body.Labels, 'Labels') ?? {}, options: stringMap(body.DriverOpts, 'DriverOpts') ?? {},
    // Docker answers a create of an existing name with the existing volume.
    ignoreIfExists: true,
  });
  ok(c, view(v), 201);
}

function list(c: Call): void {
  const f = filterList(qFilters(c), ['name', 'label', 'label!', 'driver', 'dangling', 'opt', 'scope', 'until', 'anonymous']);
  ok(c, { Volumes: c.engine.listVolumes(f).map(view), Warnings: null });
}

function inspect(c: Call): void {
  const name = c.params.name!;
  if (!c.engine.volumeExists(name)) throw noSuchVolume(name);
  ok(c, view(c.engine.inspectVolume(name)));
}

async function remove(c: Call): Promise<void> {
  const name = c.params.name!;
  if (!c.engine.volumeExists(name)) throw noSuchVolume(name);
  await c.engine.removeVolume(name, { force: qBool(c, 'force') });
  noContent(c);
}

async function prune(c: Call): Promise<void> {
  const f = qFilters(c);
  // API 1.42 and later prune only anonymous volumes unless all=true.
  const all = ['true', '1'].includes(f.get('all')?.[0] ?? '') || c.version < 1.42;
  f.delete('all');
  const filters = filterList(f, ['label', 'label!', 'until']);
  let removed: string[];
  if (all) {
    removed = await c.engine.pruneVolumes(filters);
  } else {
    removed = [];
    for (const v of c.engine.listVolumes([...filters, 'anonymous=true', 'dangling=true'])) {
      try { await c.engine.removeVolume(String(v.Name)); removed.push(String(v.Name)); } catch { /* in use meanwhile */ }
    }
  }
  ok(c, { VolumesDeleted: removed, SpaceReclaimed: 0 });
}

export function volumeRoutes(r: Router): void {
  r.add('POST', '/volumes/create', create)
    .add('GET', '/volumes', list)
    .add('POST', '/volumes/prune', prune)
    .add('GET', '/volumes/:name', inspect)
    .add('DELETE', '/volumes/:name', remove);
}
