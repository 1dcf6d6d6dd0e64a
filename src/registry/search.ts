// `berth search`: Docker Hub's search API, a registry's catalog (filtered by
// the term) where it offers one, the v1 search API otherwise; `--list-tags`
// lists a repository's tags.
import type { EngineContext } from '../engine/context.js';
import { BerthError, invalidArgument, isBerthError } from '../engine/errors.js';
import { DEFAULT_DOMAIN, LOCAL_DOMAIN, parseReference } from '../image/reference.js';
import { RegistryClient, parseJson } from './client.js';
import { lookupCredentials } from './credentials.js';
import { Transport, drain, readBody } from './http.js';
import { hostSettings, parseCreds, searchRegistries, type RegistryOptions } from './settings.js';

export interface SearchOptions extends RegistryOptions {
  limit?: number;
  listTags?: boolean;
}

export interface SearchResult {
  Index: string; Name: string; Description: string; Stars: number; Official: string; Automated: string; Tag: string;
}

/** Splits "host:5000/term" into a registry and a term; plain terms search the configured registries. */
function splitTerm(ctx: EngineContext, term: string): { registries: string[]; query: string } {
  const slash = term.indexOf('/');
  const first = slash > 0 ? term.slice(0, slash) : '';
  if (first && (first.includes('.') || first.includes(':') || first === LOCAL_DOMAIN)) return { registries: [first], query: term.slice(slash + 1) };
  return { registries: searchRegistries(ctx.cfg), query: term };
}

export async function searchImages(ctx: EngineContext, term: string, o: SearchOptions): Promise<SearchResult[]> {
  if (!term.trim()) throw invalidArgument('give a search term, e.g. berth search busybox');
  const limit = o.limit ?? 25;
  if (!Number.isSafeInteger(limit) || limit < 1) throw invalidArgument(`invalid --limit ${o.limit}: give a positive number`);
  if (o.listTags) return listTags(ctx, term, o, limit);
  const { registries, query } = splitTerm(ctx, term);
  const out: SearchResult[] = [];
  const errors: string[] = [];
  for (const host of registries) {
    try {
      const rows = host === DEFAULT_DOMAIN ? await hubSearch(ctx, query, limit, o) : await registrySearch(ctx, host, query, limit, o);
      out.push(...rows.slice(0, limit));
    } catch (e) {
      if (registries.length === 1) throw e;
      errors.push(`${host}: ${(e as Error).message}`);
    }
  }
  if (!out.length && errors.length === registries.length) throw new BerthError('runtime', `searching failed in every registry: ${errors.join('; ')}`);
  return out;
}

function row(index: string, name: string, extra: Partial<SearchResult> = {}): SearchResult {
  return { Index: index, Name: name, Description: '', Stars: 0, Official: '', Automated: '', Tag: '', ...extra };
}

interface V1Result { name?: string; description?: string; star_count?: number; is_official?: boolean; is_automated?: boolean }

async function v1Search(t: Transport, host: string, query: string, limit: number): Promise<SearchResult[] | undefined> {
  const res = await t.request('GET', `/v1/search?q=${encodeURIComponent(query)}&n=${limit}`, { headers: { accept: 'application/json' } });
  if (res.status === 404 || res.status === 401 || res.status === 403) { drain(res); return undefined; }
  if (res.status !== 200) { drain(res); throw new BerthError('runtime', `registry ${host} answered ${res.status} to a search`); }
  const doc = parseJson<{ results?: V1Result[] }>(await readBody(res, 16 << 20, `the search results of ${host}`), `the search results of ${host}`);
  return (doc.results ?? []).filter((r) => typeof r.name === 'string').map((r) => row(host, `${host}/${r.name!.includes('/') ? r.name : 'library/' + r.name}`, {
    Description: r.description ?? '', Stars: r.star_count ?? 0, Official: r.is_official ? '[OK]' : '', Automated: r.is_automated ? '[OK]' : '',
  }));
}

async function hubSearch(ctx: EngineContext, query: string, limit: number, o: RegistryOptions): Promise<SearchResult[]> {
  const t = new Transport({ ...hostSettings(ctx.cfg, 'index.docker.io', o), apiHost: 'index.docker.io' });
  try {
    return (await v1Search(t, DEFAULT_DOMAIN, query, limit)) ?? [];
  } finally {
    t.close();
  }
}

function clientFor(ctx: EngineContext, host: string, o: RegistryOptions): RegistryClient {
  return new RegistryClient(hostSettings(ctx.cfg, host, o), parseCreds(o.creds) ?? lookupCredentials(host, undefined, o.authfile));
}

async function registrySearch(ctx: EngineContext, host: string, query: string, limit: number, o: RegistryOptions): Promise<SearchResult[]> {
  const c = clientFor(ctx, host, o);
  try {
    let repos: string[] | undefined;
    try {
      repos = await c.catalog();
    } catch (e) {
      if (!isBerthError(e, 'not-found') && !isBerthError(e, 'invalid-argument')) throw e;
    }
    if (repos) return repos.filter((r) => r.includes(query)).slice(0, limit).map((r) => row(host, `${host}/${r}`));
    const v1 = await v1Search(c.t, host, query, limit);
    if (!v1) throw new BerthError('invalid-argument', `registry ${host} offers neither a catalog nor a search API to search in: pull by full name instead`);
    return v1;
  } finally {
    c.close();
  }
}

async function listTags(ctx: EngineContext, term: string, o: RegistryOptions, limit: number): Promise<SearchResult[]> {
  const ref = parseReference(term);
  if (ref.tag || ref.digest) throw invalidArgument(`--list-tags needs a repository without a tag or digest, not "${term}"`);
  const c = clientFor(ctx, ref.domain, o);
  try {
    const tags = await c.tags(ref.path);
    return tags.slice(0, limit).map((t) => row(ref.domain, `${ref.domain}/${ref.path}`, { Tag: t }));
  } finally {
    c.close();
  }
}
