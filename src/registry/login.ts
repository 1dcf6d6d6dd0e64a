// `berth login` / `berth logout`: credentials are checked against the registry
// (Basic or the token flow) before they are stored.
import type { EngineContext } from '../engine/context.js';
import { BerthError, invalidArgument } from '../engine/errors.js';
import { DEFAULT_DOMAIN } from '../image/reference.js';
import { RegistryClient } from './client.js';
import { authFilePath, inDockerConfig, lookupCredentials, removeCredentials, storeCredentials, type Credentials } from './credentials.js';
import { hostSettings, type RegistryOptions } from './settings.js';

export interface LoginOptions extends RegistryOptions {
  username?: string;
  password?: string;
  /** false: only check the credentials (the API's /auth: the client keeps them). */
  store?: boolean;
}

export interface LoginResult { key: string; file: string; reused: boolean }

/** "https://index.docker.io/v1/" → docker.io; "quay.io/org/" → quay.io/org. */
export function normalizeServer(server: string | undefined): { key: string; host: string } {
  let s = (server ?? DEFAULT_DOMAIN).trim().replace(/^https?:\/\//, '').replace(/\/+$/, '').replace(/\/v[12]$/, '');
  if (!s || /\s/.test(s)) throw invalidArgument(`invalid registry "${server}": give a host such as registry.example:5000`);
  const host0 = s.split('/')[0]!;
  if (['index.docker.io', 'registry-1.docker.io'].includes(host0)) s = DEFAULT_DOMAIN + s.slice(host0.length);
  const host = s.split('/')[0]!;
  if (!/^[a-zA-Z0-9.-]+(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/.test(host)) throw invalidArgument(`invalid registry "${server}": give a host such as registry.example:5000`);
  return { key: s, host };
}

export async function login(ctx: EngineContext, server: string | undefined, o: LoginOptions): Promise<LoginResult> {
  const { key, host } = normalizeServer(server);
  let creds: Credentials | undefined;
  let reused = false;
  if (o.username !== undefined || o.password !== undefined) {
    if (!o.username) throw invalidArgument('give a user name with --username');
    if (o.password === undefined || o.password === '') throw invalidArgument('give a password with --password or --password-stdin');
    creds = { username: o.username, password: o.password };
  } else {
    creds = lookupCredentials(host, key.includes('/') ? key.slice(host.length + 1) : undefined, o.authfile);
    if (!creds) throw invalidArgument(`give a user name and password to log in to ${host} (--username, --password-stdin)`);
    reused = true;
  }
  const client = new RegistryClient(hostSettings(ctx.cfg, host, o), creds);
  try {
    await client.verifyLogin();
  } finally {
    client.close();
  }
  const file = reused || o.store === false ? authFilePath(o.authfile) : storeCredentials(key, creds, o.authfile);
  return { key, file, reused };
}

/** The user name stored for `server` (login --get-login). */
export function storedUser(server: string | undefined, o: RegistryOptions): string {
  const { key, host } = normalizeServer(server);
  const c = lookupCredentials(host, key.includes('/') ? key.slice(host.length + 1) : undefined, o.authfile);
  if (!c) throw invalidArgument(`not logged into ${key}`);
  return c.username;
}

/** Removes stored credentials for `server`, or every one with `all`. */
export function logout(server: string | undefined, all: boolean, o: RegistryOptions): string {
  if (all) {
    removeCredentials(undefined, o.authfile);
    return 'Removed login credentials for all registries';
  }
  const { key, host } = normalizeServer(server);
  if (removeCredentials(key, o.authfile)) return `Removed login credentials for ${key}`;
  if (!o.authfile && !process.env.BERTH_AUTH_FILE && inDockerConfig(host)) {
    throw new BerthError('invalid-argument', `not logged into ${key} with berth; the credentials in Docker's config.json were not removed: use "docker logout ${key}"`);
  }
  throw new BerthError('invalid-argument', `not logged into ${key}`);
}
