// Registry authentication: anonymous, Basic, and the bearer-token flow
// (WWW-Authenticate: Bearer realm=…,service=…,scope=…). Tokens are cached per
// set of scopes until they expire; a 401 with a cached token drops it so the
// next attempt fetches a new one.
import { BerthError, invalidArgument, messageOf } from '../engine/errors.js';
import type { Credentials } from './credentials.js';
import { Transport, readBody, drain, type Response } from './http.js';
import type { HostSettings } from './settings.js';

export interface Challenge { scheme: string; params: Record<string, string> }

/** Parses WWW-Authenticate values (RFC 7235): `Bearer realm="x",service="y", Basic realm="z"`. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  const out: Challenge[] = [];
  // Each match is `name=value` (a parameter of the current challenge) or a bare name (a new scheme).
  const re = /[\s,]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*)))?/y;
  for (const v of values) {
    let cur: Challenge | undefined;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while (re.lastIndex < v.length && (m = re.exec(v))) {
      const quoted = m[2], plain = m[3];
      if (quoted !== undefined || plain !== undefined) {
        if (cur) cur.params[m[1]!.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : plain!;
      } else {
        cur = { scheme: m[1]!.toLowerCase(), params: {} };
        out.push(cur);
      }
    }
  }
  return out;
}

interface Token { value: string; expires: number }

export class Authenticator {
  private challenge?: Challenge;
  // Promises, so requests running in parallel share one token fetch.
  private tokens = new Map<string, Promise<Token>>();
  private realms = new Map<string, Transport>();

  constructor(readonly s: HostSettings, readonly creds: Credentials | undefined) {}

  /** Learns how the registry wants to be authenticated from a 401 (or the /v2/ ping). */
  learn(res: Response): void {
    const cs = parseChallenges(res.headers['www-authenticate']);
    const pick = cs.find((c) => c.scheme === 'bearer') ?? cs.find((c) => c.scheme === 'basic');
    if (pick) this.challenge = pick;
  }

  get scheme(): string | undefined { return this.challenge?.scheme; }

  /** The Authorization header for a request needing `scopes`, fetching a token if needed. */
  async header(scopes: string[]): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') return this.creds ? basic(this.creds) : undefined;
    if (c.scheme !== 'bearer') return undefined;
    const key = scopes.slice().sort().join(' ');
    let pending = this.tokens.get(key);
    if (pending) {
      const t = await pending.catch(() => undefined);
      if (t && t.expires > Date.now()) return `Bearer ${t.value}`;
      if (this.tokens.get(key) === pending) this.tokens.delete(key);
      pending = this.tokens.get(key);
    }
    if (!pending) {
      pending = this.fetchToken(c, scopes);
      this.tokens.set(key, pending);
      pending.catch(() => { if (this.tokens.get(key) === pending) this.tokens.delete(key); });
    }
    return `Bearer ${(await pending).value}`;
  }

  /** Forgets the token for `scopes` after the registry refused it. */
  invalidate(scopes: string[]): void {
    this.tokens.delete(scopes.slice().sort().join(' '));
  }

  private async fetchToken(c: Challenge, scopes: string[]): Promise<Token> {
    const realm = c.params.realm;
    if (!realm) throw new BerthError('runtime', `registry ${this.s.host} asked for a bearer token but named no realm to get it from`);
    let url: URL;
    try { url = new URL(realm); } catch { throw new BerthError('runtime', `registry ${this.s.host} named an invalid token realm "${realm}"`); }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new BerthError('runtime', `registry ${this.s.host} named a token realm that is not http(s): ${realm}`);
    if (c.params.service) url.searchParams.set('service', c.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (this.creds) url.searchParams.set('account', this.creds.username);
    let t = this.realms.get(url.host);
    if (!t) {
      // The token server gets the registry's TLS settings when it is the same host, else the defaults.
      const same = url.host === this.s.apiHost;
      t = new Transport({ ...this.s, host: url.host, apiHost: url.host, verify: same ? this.s.verify : true, allowHttp: false });
      this.realms.set(url.host, t);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.creds) headers.authorization = basic(this.creds);
    const res = await t.request('GET', url.toString(), { headers });
    if (res.status === 401 || res.status === 403) {
      drain(res);
      if (this.creds) throw invalidArgument(`logging in to ${this.s.host} failed: the token server at ${url.host} refused user "${this.creds.username}" (wrong user name or password?): run "berth login ${this.s.host}"`);
      throw invalidArgument(`${this.s.host} requires authentication: run "berth login ${this.s.host}"`);
    }
    if (res.status !== 200) {
      drain(res);
      throw new BerthError('runtime', `the token server of ${this.s.host} (${url.host}) answered ${res.status}; try again later`);
    }
    const body = await readBody(res, 1 << 20, `the token from ${url.host}`);
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try { doc = JSON.parse(body.toString('utf8')) as typeof doc; } catch (e) {
      throw new BerthError('runtime', `the token server of ${this.s.host} answered something that is not JSON (${messageOf(e)})`);
    }
    const value = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (!value) throw new BerthError('runtime', `the token server of ${this.s.host} answered without a token`);
    // Docker's default lifetime is 60 s; renew a little early.
    const life = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    return { value, expires: Date.now() + Math.max(life - 10, 5) * 1000 };
  }

  close(): void {
    for (const t of this.realms.values()) t.close();
  }
}

function basic(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}
