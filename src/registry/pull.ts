// `berth pull`: resolves a reference against mirrors and the short-name search
// registries, picks the platform from an index, downloads the config and the
// missing layers in parallel (unpacking them as they arrive), and records the
// image only when everything is verified, so a failed pull leaves no image.
// Finished blobs and layers stay in the store (pinned while we run), so a
// retry after a failure or an interrupt does not fetch them again.
import type { EngineContext } from '../engine/context.js';
import { BerthError, corrupt, invalidArgument, isBerthError, messageOf } from '../engine/errors.js';
import { sha256 } from '../content/store.js';
import { pin } from '../image/gc.js';
import { chainIds } from '../image/layers.js';
import { withImageLock } from '../image/lock.js';
import { DEFAULT_DOMAIN, fullName, parseReference, repository, type Reference } from '../image/reference.js';
import { storeImage } from '../image/writer.js';
import { log, trace } from '../sys/log.js';
import type { ImageConfig, Manifest } from '../image/types.js';
import { RegistryClient, parseJson } from './client.js';
import { lookupCredentials } from './credentials.js';
import { fetchLayer, unpackStored, type LayerJob, type LayerPlan } from './download.js';
import { LayerWorkers } from './layer-workers.js';
import { choosePlatform, hostPlatform, parseManifest, parsePlatform, platformString, type Platform } from './manifest.js';
import { ByteProgress, shortId, statusMessage, type ProgressCallback } from './progress.js';
import { hostSettings, mirrorsOf, parseCreds, searchRegistries, type RegistryOptions } from './settings.js';

export interface PullOptions extends RegistryOptions {
  /** os/arch[/variant]; the host's platform by default. */
  platform?: string;
  /** Parts of the platform, each defaulting to the host's (--arch, --os, --variant). */
  arch?: string;
  os?: string;
  variant?: string;
  /** Pull every tag of the repository. */
  allTags?: boolean;
}

export interface PulledImage { id: string; name: string; digest: string; upToDate: boolean }

const CONFIG_LIMIT = 32 * 1024 * 1024;

/** One place to try: a registry (or its mirror) and the repository path there. */
interface Source { client: RegistryClient; repo: string; ref: Reference; label: string }

function wantedPlatform(o: PullOptions): Platform {
  if (o.platform) return parsePlatform(o.platform);
  const host = hostPlatform();
  if (!o.arch && !o.os && !o.variant) return host;
  const p = parsePlatform(`${o.os ?? host.os}/${o.arch ?? host.architecture}${o.variant ? '/' + o.variant : ''}`);
  return o.arch || o.variant ? p : { ...p, ...(host.variant ? { variant: host.variant } : {}) };
}

export function stripTransport(input: string): string {
  return input.startsWith('docker://') ? input.slice('docker://'.length) : input;
}

/** The references a user-given name may mean, in the order to try them. */
export function candidates(ctx: EngineContext, input: string): Reference[] {
  const ref = parseReference(stripTransport(input));
  if (!ref.short) return [ref];
  const bare = !stripTransport(input).split(/[:@]/)[0]!.includes('/');
  return searchRegistries(ctx.cfg).map((domain) => ({
    ...ref,
    domain,
    path: domain === DEFAULT_DOMAIN || !bare ? ref.path : ref.path.replace(/^library\//, ''),
    short: false,
  }));
}

function clientFor(ctx: EngineContext, host: string, repo: string, o: RegistryOptions, clients: Map<string, RegistryClient>): RegistryClient {
  let c = clients.get(host);
  if (!c) {
    const creds = parseCreds(o.creds) ?? lookupCredentials(host, repo, o.authfile);
    c = new RegistryClient(hostSettings(ctx.cfg, host, o), creds);
    clients.set(host, c);
  }
  return c;
}

/** Mirrors first, then the registry itself. */
function sourcesFor(ctx: EngineContext, ref: Reference, o: RegistryOptions, clients: Map<string, RegistryClient>): Source[] {
  const out: Source[] = [];
  for (const m of mirrorsOf(ctx.cfg, ref.domain)) {
    const repo = m.prefix ? `${m.prefix}/${ref.path}` : ref.path;
    out.push({ client: clientFor(ctx, m.host, repo, o, clients), repo, ref, label: `mirror ${m.host}` });
  }
  out.push({ client: clientFor(ctx, ref.domain, ref.path, o, clients), repo: ref.path, ref, label: ref.domain });
  return out;
}

export async function pullImage(ctx: EngineContext, input: string, o: PullOptions, progress?: ProgressCallback): Promise<PulledImage[]> {
  const want = wantedPlatform(o);
  const refs = candidates(ctx, input);
  if (o.allTags && (refs[0]!.tag || refs[0]!.digest)) throw invalidArgument(`--all-tags needs a repository without a tag or digest, not "${input}"`);
  const clients = new Map<string, RegistryClient>();
  const workers = new LayerWorkers(ctx.cfg.parallelDownloads);
  const failures: string[] = [];
  try {
    for (const ref of refs) {
      const sources = sourcesFor(ctx, ref, o, clients);
      for (const [k, src] of sources.entries()) {
        try {
          if (!o.allTags) return [await pullOne(ctx, src, want, workers, progress)];
          const tags = await src.client.tags(src.repo);
          if (!tags.length) throw new BerthError('not-found', `${repository(ref)} has no tags`);
          const out: PulledImage[] = [];
          for (const tag of tags) out.push(await pullOne(ctx, { ...src, ref: { ...ref, tag } }, want, workers, progress));
          return out;
        } catch (e) {
          if (k < sources.length - 1) {
            // A failing mirror falls back to the next one, then to the registry itself.
            log.warn(`pulling ${fullName(ref)} from ${src.label} failed, trying the next source: ${messageOf(e)}`);
            continue;
          }
          // A search registry that does not have the image (or cannot be reached) moves on to the next one.
          const movable = isBerthError(e, 'not-found') || isBerthError(e, 'runtime') || isBerthError(e, 'invalid-argument');
          if (refs.length === 1 || !movable) throw e;
          failures.push(`${ref.domain}: ${messageOf(e)}`);
        }
      }
    }
  } finally {
    for (const c of clients.values()) c.close();
    workers.close();
  }
  throw new BerthError('not-found', `${input}: could not pull it from any search registry (${failures.join('; ')}): give the full name, e.g. ${fullName(refs[0]!)}`);
}

async function pullOne(ctx: EngineContext, src: Source, want: Platform, workers: LayerWorkers, progress?: ProgressCallback): Promise<PulledImage> {
  const { client, repo, ref } = src;
  const name = fullName(ref);
  const what = name;
  const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
  progress?.({ status: `Pulling from ${ref.path}`, id: ref.tag ?? (ref.digest ? shortId(ref.digest) : 'latest') });
  const top = await client.getManifest(repo, tagOrDigest);
  const expected = ref.digest ?? (top.digestHeader?.startsWith('sha256:') ? top.digestHeader : undefined);
  let parsed = parseManifest(top.bytes, top.mediaType, expected, what);
  const repoDigests = [`${repository(ref)}@${ref.digest ?? sha256(top.bytes)}`];
  let manifestBytes = top.bytes;
  const fromIndex = parsed.kind === 'index';
  if (parsed.kind === 'index') {
    const entry = choosePlatform(parsed.index, want, what);
    const m = await client.getManifest(repo, entry.digest);
    if (m.bytes.length !== entry.size) throw corrupt(`the manifest of ${what} for ${entry.digest} is ${m.bytes.length} bytes, but the index says ${entry.size}`);
    parsed = parseManifest(m.bytes, m.mediaType, entry.digest, what);
    if (parsed.kind !== 'manifest') throw corrupt(`the index of ${what} points to another index for ${entry.digest}; nested indexes are not supported`);
    manifestBytes = m.bytes;
    repoDigests.push(`${repository(ref)}@${entry.digest}`);
  }
  const manifest: Manifest = parsed.manifest;
  const manifestDigest = sha256(manifestBytes);
  pin(ctx, manifestDigest, manifest.config.digest);
  // The layers download while the config does: it names each layer's directory and diff ID, which an unpack needs only at its end.
  const configured = fetchConfig(ctx, client, repo, manifest, what).then((bytes) => ({ bytes, plans: layerPlans(ctx, bytes, manifest, want, fromIndex, what) }));
  const jobs: LayerJob[] = manifest.layers.map((desc, i) => ({ desc, needBlob: !ctx.content.has(desc.digest), plan: configured.then((c) => c.plans[i]!) }));
  // A job that never starts (an earlier one failed) must not leave its plan's failure unhandled.
  for (const j of jobs) j.plan.catch(() => undefined);
  workers.warm(new Set(jobs.filter((j) => j.needBlob).map((j) => j.desc.digest)).size);
  const layersDone = runJobs(ctx, client, repo, jobs, what, workers, progress);
  layersDone.catch(() => undefined); // a layer may fail while the config is still on its way: awaited below
  let configBytes: Buffer;
  try {
    configBytes = (await configured).bytes;
  } catch (e) {
    await layersDone.catch(() => undefined); // each stops at once and removes what it wrote
    throw e;
  }
  trace('pull: manifest and config');
  await layersDone;
  trace('pull: layers done');
  const id = configDigestHex(manifest);
  const before = ctx.images.get(id);
  const upToDate = !!before?.names.includes(name) && before.record.manifestDigest === manifestDigest;
  const record = await withImageLock(ctx, () => {
    const prev = ctx.images.get(id)?.record.repoDigests ?? [];
    return storeImage(ctx.content, ctx.images, ctx.layers, {
      configBytes, layers: manifest.layers, names: ref.digest && !ref.tag ? [`${repository(ref)}@${ref.digest}`] : [name],
      manifestBytes, repoDigests: [...new Set([...prev, ...repoDigests])],
    });
  });
  trace('pull: image recorded');
  ctx.events.record('image', 'pull', record.id, name);
  const digest = repoDigests[0]!.slice(repoDigests[0]!.indexOf('@') + 1);
  progress?.(statusMessage(`Digest: ${digest}`));
  progress?.(statusMessage(upToDate ? `Status: Image is up to date for ${name}` : `Status: Downloaded newer image for ${name}`));
  return { id: record.id, name, digest, upToDate };
}

function configDigestHex(m: Manifest): string {
  return m.config.digest.slice(7);
}

/** What the config says of each layer (checked against the manifest), and which layer directories are still to be made. */
function layerPlans(ctx: EngineContext, configBytes: Buffer, manifest: Manifest, want: Platform, fromIndex: boolean, what: string): LayerPlan[] {
  const config = parseJson<ImageConfig>(configBytes, `the config of ${what}`);
  if (!fromIndex && config?.architecture && (config.architecture !== want.architecture || (config.os ?? 'linux') !== want.os)) {
    log.warn(`image platform (${config.os ?? 'linux'}/${config.architecture}) of ${what} does not match the expected platform (${platformString(want)})`);
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length || !diffIds.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw corrupt(`the config of ${what} lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} valid layer diff IDs but the manifest has ${manifest.layers.length} layers: the image is damaged`);
  }
  const chains = chainIds(diffIds);
  return diffIds.map((diffId, i) => ({
    diffId, chainId: chains[i]!, ...(i > 0 ? { parent: chains[i - 1]! } : {}), needUnpack: !ctx.layers.exists(chains[i]!),
  }));
}

async function fetchConfig(ctx: EngineContext, client: RegistryClient, repo: string, m: Manifest, what: string): Promise<Buffer> {
  if (ctx.content.has(m.config.digest)) return ctx.content.read(m.config.digest);
  if (m.config.size > CONFIG_LIMIT) throw corrupt(`the config of ${what} is ${m.config.size} bytes, more than the ${CONFIG_LIMIT} allowed`);
  const bytes = await client.readBlob(repo, m.config.digest, CONFIG_LIMIT, `the config of ${what}`);
  const got = sha256(bytes);
  if (got !== m.config.digest) throw corrupt(`the config of ${what} does not match its digest: expected ${m.config.digest}, got ${got} (registry ${client.host} or a proxy altered it)`);
  return bytes;
}

/**
 * Runs the layer jobs: the downloads (which need not wait for the config) at
 * most `parallelDownloads` at a time, the first failure stopping the rest; and,
 * once the config is in, the layers of blobs in the store already.
 */
async function runJobs(ctx: EngineContext, client: RegistryClient, repo: string, jobs: LayerJob[], what: string, workers: LayerWorkers, progress?: ProgressCallback): Promise<void> {
  const downloads: LayerJob[] = [];
  const stored: LayerJob[] = [];
  const seen = new Set<string>();
  for (const j of jobs) {
    if (seen.has(j.desc.digest)) continue;
    seen.add(j.desc.digest);
    if (j.needBlob) {
      progress?.(statusMessage('Pulling fs layer', shortId(j.desc.digest)));
      downloads.push(j);
    } else {
      stored.push(j);
    }
  }
  const limit = Math.max(1, ctx.cfg.parallelDownloads);
  for (const j of downloads.slice(limit)) progress?.(statusMessage('Waiting', shortId(j.desc.digest)));
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < downloads.length && failure === undefined) {
      const j = downloads[next++]!;
      const id = shortId(j.desc.digest);
      try {
        await fetchLayer(ctx, client, repo, j, what, new ByteProgress(progress, id, 'Downloading', j.desc.size), workers);
        progress?.(statusMessage('Pull complete', id));
      } catch (e) {
        failure ??= e;
      }
    }
  };
  // One at a time: each unpacks in this process, and there is rarely more than one.
  const local = async () => {
    for (const j of stored) {
      const plan = await j.plan;
      const id = shortId(j.desc.digest);
      if (!plan.needUnpack) progress?.(statusMessage('Already exists', id));
      else {
        await unpackStored(ctx, j.desc, plan, what);
        progress?.(statusMessage('Pull complete', id));
      }
    }
  };
  const settled = await Promise.allSettled([...Array.from({ length: Math.min(limit, downloads.length) }, worker), local()]);
  if (failure !== undefined) throw failure;
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The digest `input` has in its registry now (for --pull newer), or undefined when unreachable. */
export async function remoteDigest(ctx: EngineContext, input: string, o: RegistryOptions): Promise<string | undefined> {
  const ref = candidates(ctx, input)[0]!;
  if (ref.digest) return ref.digest;
  const clients = new Map<string, RegistryClient>();
  try {
    const src = sourcesFor(ctx, ref, o, clients).at(-1)!;
    return await src.client.headManifest(src.repo, ref.tag ?? 'latest');
  } catch {
    return undefined;
  } finally {
    for (const c of clients.values()) c.close();
  }
}
