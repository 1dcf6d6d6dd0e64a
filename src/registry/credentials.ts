// Registry credentials in Podman's auth.json format
//   {"auths": {"registry.example:5000": {"auth": "<base64 user:password>"}}}
// written to ${XDG_RUNTIME_DIR}/berth/auth.json (or ~/.config/berth/auth.json
// without a runtime dir), and read from there, ~/.config/berth/auth.json and
// Docker's ~/.docker/config.json. BERTH_AUTH_FILE or --authfile name one file
// that is then the only one read and written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { invalidArgument, messageOf } from '../engine/errors.js';
import { writeFileAtomic } from '../sys/fsutil.js';

export interface Credentials { username: string; password: string }

interface AuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string }
interface AuthFile { auths?: Record<string, AuthEntry>; credsStore?: string; credHelpers?: Record<string, string>; [k: string]: unknown }

function home(env: NodeJS.ProcessEnv): string {
  return env.HOME || os.homedir();
}

/** The file `login` writes and `logout` edits. */
export function authFilePath(authfile: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (authfile) return path.resolve(authfile);
  if (env.BERTH_AUTH_FILE) return path.resolve(env.BERTH_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'berth', 'auth.json');
  return path.join(home(env), '.config', 'berth', 'auth.json');
}

/** The files credentials are looked up in, most specific first. */
export function authFilesToRead(authfile: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (authfile || env.BERTH_AUTH_FILE) return [authFilePath(authfile, env)];
  const files = [authFilePath(undefined, env), path.join(home(env), '.config', 'berth', 'auth.json')];
  files.push(path.join(env.DOCKER_CONFIG || path.join(home(env), '.docker'), 'config.json'));
  return [...new Set(files)];
}

function readAuthFile(file: string): AuthFile | undefined {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return undefined; }
  if (!text.trim()) return {};
  try {
    const doc = JSON.parse(text) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a JSON object');
    return doc as AuthFile;
  } catch (e) {
    throw invalidArgument(`credentials file ${file} is not valid JSON (${messageOf(e)}): fix or remove it`);
  }
}

/** The keys an entry for `host` may have: Docker writes https://index.docker.io/v1/ for Docker Hub. */
function keyMatches(key: string, host: string, repo?: string): number {
  const k = key.replace(/^https?:\/\//, '').replace(/\/+$/, '').replace(/\/v[12]$/, '');
  const norm = (h: string) => (h === 'index.docker.io' || h === 'registry-1.docker.io' ? 'docker.io' : h);
  const [kHost, ...kPath] = k.split('/');
  if (norm(kHost!) !== norm(host)) return -1;
  if (!kPath.length) return 0;
  // A key with a namespace (quay.io/org) applies to that namespace only; longer wins.
  const ns = kPath.join('/');
  return repo && (repo === ns || repo.startsWith(ns + '/')) ? ns.length : -1;
}

function decode(entry: AuthEntry, key: string, file: string): Credentials | undefined {
  if (entry.auth) {
    const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i < 0) throw invalidArgument(`credentials for ${key} in ${file} are malformed (expected base64 of user:password): log in again`);
    return { username: plain.slice(0, i), password: plain.slice(i + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

/** Credentials for `host` (and optionally a repository path), or undefined for anonymous access. */
export function lookupCredentials(host: string, repo: string | undefined, authfile?: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  for (const file of authFilesToRead(authfile, env)) {
    const doc = readAuthFile(file);
    let best: { score: number; key: string; entry: AuthEntry } | undefined;
    for (const [key, entry] of Object.entries(doc?.auths ?? {})) {
      const score = keyMatches(key, host, repo);
      if (score >= 0 && (!best || score > best.score)) best = { score, key, entry };
    }
    if (best) {
      const c = decode(best.entry, best.key, file);
      if (c) return c;
    }
  }
  return undefined;
}

/** Stores credentials for `key` (host or host/namespace). */
export function storeCredentials(key: string, creds: Credentials, authfile?: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = authFilePath(authfile, env);
  const doc = readAuthFile(file) ?? {};
  doc.auths ??= {};
  doc.auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  write(file, doc);
  return file;
}

/** Removes the credentials for `key` (or all with key undefined); false when there were none. */
export function removeCredentials(key: string | undefined, authfile?: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const file = authFilePath(authfile, env);
  const doc = readAuthFile(file);
  if (!doc?.auths) return false;
  if (key === undefined) {
    const had = Object.keys(doc.auths).length > 0;
    doc.auths = {};
    write(file, doc);
    return had;
  }
  const hit = Object.keys(doc.auths).find((k) => k === key || keyMatches(k, key) === 0);
  if (!hit) return false;
  delete doc.auths[hit];
  write(file, doc);
  return true;
}

/** True when Docker's config (not ours) has credentials for `host`: logout cannot remove those. */
export function inDockerConfig(host: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const file = path.join(env.DOCKER_CONFIG || path.join(home(env), '.docker'), 'config.json');
  try {
    return Object.keys(readAuthFile(file)?.auths ?? {}).some((k) => keyMatches(k, host) === 0);
  } catch {
    return false;
  }
}

function write(file: string, doc: AuthFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, JSON.stringify(doc, null, '\t') + '\n', { mode: 0o600 });
}
