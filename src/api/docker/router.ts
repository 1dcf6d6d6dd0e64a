// A small router for the Docker Engine API: `/vX.Y` prefixes are optional (the
// docker CLI sends them, dockerode and testcontainers do not), path parameters
// may be greedy (image names hold `/` and `:`), and every call gets helpers to
// read its body and query and to answer in Docker's shapes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine } from '../../engine/engine.js';
import type { ServerState } from './state.js';
import { ApiError, badRequest } from './errors.js';

export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';
/** Largest JSON body accepted (create bodies are a few kB). */
export const JSON_BODY_LIMIT = 2 * 1024 * 1024;

export interface Call {
  req: IncomingMessage;
  method: string;
  /** The path without the version prefix. */
  path: string;
  /** The API version the client asked for (the newest when unprefixed). */
  version: number;
  params: Record<string, string>;
  query: URLSearchParams;
  engine: Engine;
  state: ServerState;
  /** A normal request. */
  res?: ServerResponse;
  /** A request with `Upgrade: tcp`: the raw connection, its body, and the bytes after the body (early stdin). */
  hijack?: { socket: Duplex; body: Buffer; rest: Buffer };
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export type Handler = (c: Call) => Promise<void> | void;

interface Route { method: string; re: RegExp; names: string[]; handler: Handler }

export class Router {
  private routes: Route[] = [];

  /** `pattern` like /containers/:id/json; `:name*` matches across slashes (image names). */
  add(method: string, pattern: string, handler: Handler): this {
    const names: string[] = [];
    const src = pattern.split('/').map((seg) => {
      const m = /^:(\w+)(\*)?$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return m[2] ? '(.+)' : '([^/]+)';
    }).join('/');
    this.routes.push({ method, re: new RegExp(`^${src}/?$`), names, handler });
    return this;
  }

  /**
   * The handler for a request, if any. Like dockerd, a known path with another
   * method is simply not found (404 "page not found"), not 405.
   */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    const m = method === 'HEAD' ? ['HEAD', 'GET'] : [method];
    for (const want of m) {
      for (const r of this.routes) {
        if (r.method !== want) continue;
        const hit = r.re.exec(path);
        if (!hit) continue;
        const params: Record<string, string> = {};
        r.names.forEach((n, i) => { params[n] = safeDecode(hit[i + 1]!); });
        return { handler: r.handler, params };
      }
    }
    return undefined;
  }
}

function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

/** Splits `/v1.41/containers/json` into version and path; unprefixed paths get the newest version. */
export function splitVersion(rawPath: string): { version: number; path: string } {
  const m = /^\/v(\d+)\.(\d+)(\/.*)?$/.exec(rawPath);
  if (!m) return { version: Number(API_VERSION), path: rawPath };
  const version = Number(`${m[1]}.${m[2]!.padStart(2, '0')}`);
  const given = `${m[1]}.${m[2]}`;
  if (compareVersions(given, API_VERSION) > 0) throw badRequest(`client version ${given} is too new. Maximum supported API version is ${API_VERSION}`);
  if (compareVersions(given, MIN_API_VERSION) < 0) {
    throw badRequest(`client version ${given} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  return { version, path: m[3] ?? '/' };
}

function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number) as [number, number];
  const [b1, b2] = b.split('.').map(Number) as [number, number];
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

// ---------- query parameters ----------

/** Docker's booleans: 1/true/True/yes; absent or empty is `dflt`. */
export function qBool(c: Call, name: string, dflt = false): boolean {
  const v = c.query.get(name);
  if (v === null || v === '') return dflt;
  if (/^(1|true|yes)$/i.test(v)) return true;
  if (/^(0|false|no)$/i.test(v)) return false;
  throw badRequest(`invalid value for ${name}: "${v}" is not a boolean (use 1, true, 0 or false)`);
}

export function qInt(c: Call, name: string): number | undefined {
  const v = c.query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${name}: "${v}" is not an integer`);
  return Number(v);
}

export function qStr(c: Call, name: string): string | undefined {
  const v = c.query.get(name);
  return v === null || v === '' ? undefined : v;
}

/**
 * `filters` as key → values. Both encodings: {"label":{"a=b":true}} (the CLI)
 * and {"label":["a=b"]} (dockerode, testcontainers).
 */
export function qFilters(c: Call): Map<string, string[]> {
  const raw = c.query.get('filters');
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let v: unknown;
  try { v = JSON.parse(raw); } catch { throw badRequest(`invalid filters: ${JSON.stringify(raw.slice(0, 100))} is not JSON`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('invalid filters: expected a JSON object such as {"label":["a=b"]}');
  for (const [k, val] of Object.entries(v)) {
    if (Array.isArray(val) && val.every((x) => typeof x === 'string')) out.set(k, val as string[]);
    else if (val && typeof val === 'object' && !Array.isArray(val)) out.set(k, Object.entries(val).filter(([, on]) => on === true).map(([x]) => x));
    else throw badRequest(`invalid filter "${k}": expected a list of strings`);
  }
  return out;
}

// ---------- bodies ----------

/** Reads a normal request's body (at most `limit` bytes; more is a 413). */
export async function readBody(c: Call, limit = JSON_BODY_LIMIT): Promise<Buffer> {
  const declared = Number(c.req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new ApiError(413, `request body too large: ${declared} bytes (at most ${limit})`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of c.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError(413, `request body too large: more than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body; an empty body is `{}`. */
export async function readJson(c: Call, limit = JSON_BODY_LIMIT): Promise<Record<string, unknown>> {
  const body = c.hijack ? c.hijack.body : await readBody(c, limit);
  return parseJsonObject(body);
}

export function parseJsonObject(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8').trim();
  if (!text) return {};
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { throw badRequest(`invalid JSON in request body: ${(e as Error).message}`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('invalid request body: expected a JSON object');
  return v as Record<string, unknown>;
}
