// A client for one registry host speaking the OCI distribution spec: ping,
// manifests, blobs (download with Range, HEAD, mount, upload), tags and the
// catalog. Requests carry the right credentials for their scopes; 5xx answers
// and reset connections are retried with backoff.
import type { Readable } from 'node:stream';
import { BerthError, invalidArgument, messageOf, notFound, runtimeError } from '../engine/errors.js';
import { Authenticator } from './auth.js';
import type { Credentials } from './credentials.js';
import { RETRIES, TransientError, Transport, backoff, drain, readBody, type RequestInit, type Response } from './http.js';
import type { HostSettings } from './settings.js';

export const MANIFEST_LIMIT = 4 * 1024 * 1024;

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface FetchedManifest { bytes: Buffer; mediaType: string; digestHeader?: string }

interface RegistryErrorBody { errors?: { code?: string; message?: string; detail?: unknown }[] }

export class RegistryClient {
  readonly t: Transport;
  readonly auth: Authenticator;
  private pinged = false;

  constructor(readonly s: HostSettings, readonly creds: Credentials | undefined, readonly push = false) {
    this.t = new Transport(s);
    this.auth = new Authenticator(s, creds);
  }

  get host(): string { return this.s.host; }

  scopes(repo: string, extra: string[] = []): string[] {
    return [`repository:${repo}:${this.push ? 'pull,push' : 'pull'}`, ...extra];
  }

  /** GET /v2/: learns the scheme and the authentication the registry wants. */
  async ping(): Promise<void> {
    if (this.pinged) return;
    const res = await this.retrying('GET', '/v2/', () => this.t.request('GET', '/v2/'));
    drain(res);
    if (res.status === 401) this.auth.learn(res);
    else if (res.status === 404) throw runtimeError(`${this.host} is not a container registry: GET /v2/ answered 404 (check the name and port)`);
    else if (res.status >= 400 && res.status !== 403) throw runtimeError(`registry ${this.host} answered ${res.status} to GET /v2/`);
    this.pinged = true;
  }

  /** Checks that the credentials are accepted (login). */
  async verifyLogin(): Promise<void> {
    await this.ping();
    if (!this.auth.scheme) return; // open registry: nothing to check, like Docker
    const res = await this.send('GET', '/v2/', []);
    drain(res);
    if (res.status === 401 || res.status === 403) {
      throw invalidArgument(`logging in to ${this.host} failed: wrong user name or password`);
    }
    if (res.status >= 400) throw runtimeError(`registry ${this.host} answered ${res.status} to GET /v2/`);
  }

  /**
   * One authenticated request with retries. `init` may be a function so a
   * streamed body is made afresh for every attempt.
   */
  async send(method: string, target: string, scopes: string[], init: RequestInit | (() => RequestInit) = {}): Promise<Response> {
    await this.ping();
    return this.retrying(method, target, async () => {
      for (let renewed = false; ; renewed = true) {
        const opts = typeof init === 'function' ? init() : init;
        const authz = await this.auth.header(scopes);
        const headers = { ...opts.headers, ...(authz ? { authorization: authz } : {}) };
        const res = await this.t.request(method, target, { ...opts, headers });
        if (res.status !== 401 || renewed) return res;
        // A token may have expired or lack a scope: learn the challenge again and retry once.
        this.auth.learn(res);
        if (!this.auth.scheme) return res;
        drain(res);
        this.auth.invalidate(scopes);
      }
    });
  }

  private async retrying(method: string, target: string, fn: () => Promise<Response>): Promise<Response> {
    let last: unknown;
    for (let attempt = 0; attempt <= RETRIES; attempt++) {
      if (attempt) await backoff(attempt, lastRetryAfter(last));
      try {
        const res = await fn();
        if ((res.status >= 500 || res.status === 429) && attempt < RETRIES) {
          last = res;
          drain(res);
          continue;
        }
        return res;
      } catch (e) {
        if (!(e instanceof TransientError)) throw e;
        last = e;
      }
    }
    if (last instanceof Error) throw new BerthError('runtime', `${last.message} (after ${RETRIES + 1} attempts): try again later`);
    throw runtimeError(`registry ${this.host} keeps failing ${method} ${target}`);
  }

  /** Runs a request and the reading of its body again when the body arrives cut short. */
  private async wholeBody<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof TransientError)) throw e;
        if (attempt > RETRIES) throw new BerthError('runtime', `${e.message} (after ${attempt} attempts): try again later`);
        await backoff(attempt);
      }
    }
  }

  async getManifest(repo: string, ref: string): Promise<FetchedManifest> {
    const target = `/v2/${repo}/manifests/${ref}`;
    const name = `${this.host}/${repo}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
    return this.wholeBody(async () => {
      const res = await this.send('GET', target, this.scopes(repo), { headers: { accept: MANIFEST_ACCEPT } });
      if (res.status !== 200) throw await this.statusError(res, repo, ref, 'manifest');
      const bytes = await readBody(res, MANIFEST_LIMIT, `the manifest of ${name}`);
      const digestHeader = headerOf(res, 'docker-content-digest');
      return { bytes, mediaType: (headerOf(res, 'content-type') ?? '').split(';')[0]!.trim(), ...(digestHeader ? { digestHeader } : {}) };
    });
  }

  /** The digest a tag points to, without downloading the manifest (undefined when the registry does not say). */
  async headManifest(repo: string, ref: string): Promise<string | undefined> {
    const res = await this.send('HEAD', `/v2/${repo}/manifests/${ref}`, this.scopes(repo), { headers: { accept: MANIFEST_ACCEPT } });
    drain(res);
    if (res.status !== 200) throw await this.statusError(res, repo, ref, 'manifest');
    return headerOf(res, 'docker-content-digest');
  }

  /** Starts a blob download at `offset` (Range); status 206 means the range was honoured. */
  async getBlob(repo: string, digest: string, offset = 0): Promise<Response> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const res = await this.send('GET', `/v2/${repo}/blobs/${digest}`, this.scopes(repo), { headers, direct: true });
    if (res.status !== 200 && res.status !== 206) throw await this.statusError(res, repo, digest, 'blob');
    return res;
  }

  async readBlob(repo: string, digest: string, limit: number, what: string): Promise<Buffer> {
    return this.wholeBody(async () => readBody(await this.getBlob(repo, digest), limit, what));
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const res = await this.send('HEAD', `/v2/${repo}/blobs/${digest}`, this.scopes(repo));
    drain(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.statusError(res, repo, digest, 'blob');
  }

  /**
   * Asks the registry to link a blob from another repository. Returns true when
   * mounted, else the upload location the registry opened instead.
   */
  async mountBlob(repo: string, digest: string, from: string): Promise<true | string> {
    const target = `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const res = await this.send('POST', target, this.scopes(repo, [`repository:${from}:pull`]));
    if (res.status !== 201 && res.status !== 202) throw await this.statusError(res, repo, digest, 'blob');
    drain(res);
    return res.status === 201 ? true : this.location(res, repo);
  }

  async startUpload(repo: string): Promise<string> {
    const res = await this.send('POST', `/v2/${repo}/blobs/uploads/`, this.scopes(repo));
    if (res.status !== 202) throw await this.statusError(res, repo, '', 'upload');
    drain(res);
    return this.location(res, repo);
  }

  /** Uploads a whole blob to an upload location in one PUT (monolithic upload). */
  async putBlob(repo: string, location: string, digest: string, size: number, body: () => Readable): Promise<void> {
    const url = new URL(location, this.t.origin);
    url.searchParams.set('digest', digest);
    const res = await this.send('PUT', url.toString(), this.scopes(repo), () => ({
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body, timeoutMs: 300_000,
    }));
    if (res.status !== 201) throw await this.statusError(res, repo, digest, 'blob upload');
    drain(res);
  }

  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string | undefined> {
    const res = await this.send('PUT', `/v2/${repo}/manifests/${ref}`, this.scopes(repo), { headers: { 'content-type': mediaType }, body: bytes });
    if (res.status !== 201 && res.status !== 200) throw await this.statusError(res, repo, ref, 'manifest upload');
    drain(res);
    return headerOf(res, 'docker-content-digest');
  }

  /** All tags of a repository (following Link pagination). */
  async tags(repo: string): Promise<string[]> {
    const out: string[] = [];
    let target: string | undefined = `/v2/${repo}/tags/list?n=1000`;
    const seen = new Set<string>();
    while (target) {
      // A registry whose next link repeats or never ends must not loop for ever.
      if (seen.has(target) || seen.size >= 1000) throw new BerthError('corrupt', `${this.host} keeps paging the tags of ${repo} (${out.length} so far): its tag list is broken`);
      seen.add(target);
      const res = await this.send('GET', target, this.scopes(repo), { headers: { accept: 'application/json' } });
      if (res.status !== 200) throw await this.statusError(res, repo, '', 'tag list');
      const doc = parseJson<{ tags?: string[] | null }>(await readBody(res, 16 << 20, `the tags of ${this.host}/${repo}`), `the tag list of ${this.host}/${repo}`);
      out.push(...(doc.tags ?? []));
      target = nextLink(res);
    }
    return out;
  }

  /** Repository names (the registry's catalog). */
  async catalog(limit = 1000): Promise<string[]> {
    const res = await this.send('GET', `/v2/_catalog?n=${limit}`, ['registry:catalog:*'], { headers: { accept: 'application/json' } });
    if (res.status !== 200) throw await this.statusError(res, '', '', 'catalog');
    return parseJson<{ repositories?: string[] }>(await readBody(res, 16 << 20, `the catalog of ${this.host}`), `the catalog of ${this.host}`).repositories ?? [];
  }

  private location(res: Response, repo: string): string {
    const loc = headerOf(res, 'location');
    if (!loc) throw runtimeError(`registry ${this.host} opened an upload for ${repo} without saying where (no Location header)`);
    return new URL(loc, this.t.origin).toString();
  }

  /** A one-line error for an unexpected status, with the registry's own message. */
  async statusError(res: Response, repo: string, ref: string, what: string): Promise<BerthError> {
    let detail = '';
    let code = '';
    try {
      const body = await readBody(res, 64 * 1024, 'the error');
      const doc = JSON.parse(body.toString('utf8')) as RegistryErrorBody;
      const e = doc.errors?.[0];
      code = e?.code ?? '';
      detail = [e?.code, e?.message].filter(Boolean).join(': ');
    } catch { res.body.destroy(); }
    const name = `${this.host}/${repo}${ref ? (ref.startsWith('sha256:') ? '@' : ':') + ref : ''}`;
    const why = detail ? ` (${detail})` : '';
    if (res.status === 401) {
      if (this.creds) return invalidArgument(`${this.host} refused the credentials of "${this.creds.username}" for ${name}${why}: check them with "berth login ${this.host}"`);
      return invalidArgument(`${this.host} requires authentication for ${name}${why}: run "berth login ${this.host}"`);
    }
    if (res.status === 403) return invalidArgument(`access to ${name} was denied by ${this.host}${why}: check your permissions for this repository`);
    if (res.status === 404 || code === 'NAME_UNKNOWN' || code === 'MANIFEST_UNKNOWN') {
      if (code === 'NAME_UNKNOWN') return notFound(`repository ${this.host}/${repo} does not exist${why}: check the name`);
      if (what === 'manifest') return notFound(`${name}: no such image in the registry${why}: check the name and tag (berth search --list-tags ${this.host}/${repo})`);
      return notFound(`${what} ${name} is not in the registry${why}`);
    }
    if (res.status >= 500 || res.status === 429) return runtimeError(`registry ${this.host} answered ${res.status} for the ${what} of ${name}${why} (after ${RETRIES + 1} attempts): try again later`);
    return runtimeError(`registry ${this.host} answered ${res.status} for the ${what} of ${name}${why}`);
  }

  close(): void {
    this.t.close();
    this.auth.close();
  }
}

export function headerOf(res: Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function lastRetryAfter(last: unknown): string | undefined {
  return last && typeof last === 'object' && 'headers' in last ? headerOf(last as Response, 'retry-after') : undefined;
}

function nextLink(res: Response): string | undefined {
  const link = headerOf(res, 'link');
  const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
  return m ? m[1] : undefined;
}

export function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (e) {
    throw new BerthError('corrupt', `${what} is not valid JSON (${messageOf(e).split('\n')[0]}): the registry is broken or serves something else`);
  }
}
