// /networks: list, inspect, create, remove, connect, disconnect, prune. The
// Engine's default network is Docker's "bridge" here (what clients ask for:
// testcontainers reads /networks/bridge for its gateway); "host" and "none"
// are the modes without a record, listed as Docker lists them.
import type { Call, Router } from './router.js';
import { qFilters, readJson } from './router.js';
import { noContent, ok, send } from './respond.js';
import { ApiError, noSuchContainer, noSuchNetwork, orNotFound } from './errors.js';
import { boolean, object, string, stringMap, strings } from './translate.js';
import { isBerthError } from '../../engine/errors.js';

type Json = Record<string, unknown>;
const BUILTIN = ['bridge', 'host', 'none'];

/** A mode without a network record, in Docker's shape. */
function modeView(name: 'host' | 'none'): Json {
  return {
    Name: name, Id: name, Created: '0001-01-01T00:00:00Z', Scope: 'local', Driver: name === 'host' ? 'host' : 'null', EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] }, Internal: false, Attachable: false, Ingress: false,
    ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {},
  };
}

/** The Engine's view, with the default network under Docker's name. */
function view(c: Call, n: Json): Json {
  const isDefault = n.Id === c.engine.inspectNetwork('bridge').Id;
  return isDefault ? { ...n, Name: 'bridge', Options: { ...(n.Options as Json), 'com.docker.network.bridge.default_bridge': 'true' } } : n;
}

function find(c: Call, ref: string): Json {
  if (ref === 'host' || ref === 'none') return modeView(ref);
  try {
    if (!c.engine.networkExists(ref)) throw noSuchNetwork(ref);
    return view(c, c.engine.inspectNetwork(ref));
  } catch (e) {
    throw orNotFound(e, noSuchNetwork(ref));
  }
}

function all(c: Call): Json[] {
  return [...c.engine.listNetworks().map((n) => view(c, n)), modeView('host'), modeView('none')];
}

function list(c: Call): void {
  const f = qFilters(c);
  const pass = (key: string, test: (v: string) => boolean) => !f.get(key)?.length || f.get(key)!.some(test);
  ok(c, all(c).filter((n) => {
    const labels = (n.Labels ?? {}) as Record<string, string>;
    return pass('name', (v) => String(n.Name).includes(v))
      && pass('id', (v) => String(n.Id).startsWith(v))
      && pass('driver', (v) => n.Driver === v)
      && pass('scope', (v) => v === 'local')
      && pass('type', (v) => (v === 'builtin') === BUILTIN.includes(String(n.Name)))
      && (f.get('label') ?? []).every((l) => {
        const i = l.indexOf('=');
        return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
      });
  }).map(({ Containers: _omit, ...rest }) => ({ ...rest, Containers: {} })));
}

function inspect(c: Call): void {
  ok(c, find(c, c.params.id!));
}

async function create(c: Call): Promise<void> {
  const body = await readJson(c);
  const name = string(body.Name, 'Name');
  if (!name) throw new ApiError(400, 'a network needs a name: {"Name": "mynet"}');
  const driver = string(body.Driver, 'Driver') || 'bridge';
  if (driver !== 'bridge') throw new ApiError(400, `network driver "${driver}" is not supported by Berth: use bridge`);
  if (BUILTIN.includes(name) || c.engine.networkExists(name)) throw new ApiError(409, `network with name ${name} already exists`);
  const ipam = object(body.IPAM, 'IPAM');
  const configs = ipam?.Config === undefined || ipam.Config === null ? [] : (Array.isArray(ipam.Config) ? ipam.Config : [ipam.Config]);
  const first = object(configs[0], 'IPAM.Config[0]');
  try {
    const n = await c.engine.createNetwork({
      name, internal: !!boolean(body.Internal, 'Internal'), labels: stringMap(body.Labels, 'Labels') ?? {}, options: stringMap(body.Options, 'Options') ?? {},
      subnet: string(first?.Subnet, 'IPAM.Config[0].Subnet') || undefined, gateway: string(first?.Gateway, 'IPAM.Config[0].Gateway') || undefined,
      ipRange: string(first?.IPRange, 'IPAM.Config[0].IPRange') || undefined,
    });
    ok(c, { Id: n.Id, Warning: '' }, 201);
  } catch (e) {
    if (isBerthError(e, 'conflict') && c.engine.networkExists(name)) throw new ApiError(409, `network with name ${name} already exists`);
    throw e;
  }
}

async function remove(c: Call): Promise<void> {
  const ref = c.params.id!;
  const n = find(c, ref);
  if (BUILTIN.includes(String(n.Name))) throw new ApiError(403, `${n.Name} is a pre-defined network and cannot be removed`);
  await c.engine.removeNetwork(String(n.Id));
  noContent(c);
}

function containerRef(c: Call, body: Json): string {
  const ref = string(body.Container, 'Container');
  if (!ref) throw new ApiError(400, 'name the container: {"Container": "NAME"}');
  if (!c.engine.containerExists(ref)) throw noSuchContainer(ref);
  return ref;
}

async function connect(c: Call): Promise<void> {
  const n = find(c, c.params.id!);
  const body = await readJson(c);
  const ref = containerRef(c, body);
  const ep = object(body.EndpointConfig, 'EndpointConfig');
  const ipam = object(ep?.IPAMConfig, 'EndpointConfig.IPAMConfig');
  await c.engine.connectNetwork(String(n.Name), ref, {
    aliases: strings(ep?.Aliases, 'EndpointConfig.Aliases') ?? [], ip: string(ipam?.IPv4Address, 'EndpointConfig.IPAMConfig.IPv4Address') || undefined,
  });
  send(c, 200);
}

async function disconnect(c: Call): Promise<void> {
  const n = find(c, c.params.id!);
  const body = await readJson(c);
  await c.engine.disconnectNetwork(String(n.Name), containerRef(c, body));
  send(c, 200);
}

async function prune(c: Call): Promise<void> {
  ok(c, { NetworksDeleted: await c.engine.pruneNetworks() });
}

export function networkRoutes(r: Router): void {
  r.add('GET', '/networks', list)
    .add('POST', '/networks/create', create)
    .add('POST', '/networks/prune', prune)
    .add('GET', '/networks/:id', inspect)
    .add('DELETE', '/networks/:id', remove)
    .add('POST', '/networks/:id/connect', connect)
    .add('POST', '/networks/:id/disconnect', disconnect);
}
