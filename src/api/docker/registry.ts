// Pull (POST /images/create?fromImage=), push (POST /images/{name}/push), search
// and /auth, through the Engine's registry actions. Progress is streamed as
// JSON lines; a failure before the first layer (unknown repository, denied)
// is still a proper HTTP error (404 for an unknown image), which the docker
// CLI prints as "Error response from daemon: …".
import type { Call } from './router.js';
import { qInt, qStr, readJson } from './router.js';
import { ok, startJsonStream } from './respond.js';
import { ApiError } from './errors.js';
import type { ProgressMessage, RegistryOptions } from '../../engine/engine.js';
import { messageOf } from '../../engine/errors.js';

/** Credentials from X-Registry-Auth (base64url JSON {username, password}); `{}` means none. */
function registryAuth(c: Call): RegistryOptions {
  const raw = c.req.headers['x-registry-auth'];
  if (typeof raw !== 'string' || !raw) return {};
  try {
    const v = JSON.parse(Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, unknown>;
    if (typeof v.username === 'string' && v.username && typeof v.password === 'string') return { creds: `${v.username}:${v.password}` };
  } catch { /* malformed: pull anonymously, as moby does */ }
  return {};
}

/**
 * Runs a registry action whose progress is streamed. The first message is held
 * back until a second one shows the registry answered, so early failures can
 * still be an HTTP status; later ones become an errorDetail line.
 */
async function streamProgress(c: Call, action: (emit: (m: ProgressMessage) => void) => Promise<void>): Promise<void> {
  let out: ReturnType<typeof startJsonStream> | undefined;
  let held: ProgressMessage[] = [];
  let chain = Promise.resolve();
  const emit = (m: ProgressMessage) => {
    if (!out) {
      held.push(m);
      if (held.length < 2) return;
      out = startJsonStream(c);
      const first = held;
      held = [];
      for (const h of first) chain = chain.then(() => out!.write(h));
      return;
    }
    chain = chain.then(() => out!.write(m));
  };
  try {
    await action(emit);
  } catch (e) {
    if (!out) throw e;
    const message = messageOf(e);
    chain = chain.then(() => out!.write({ errorDetail: { message }, error: message }));
  }
  if (!out) {
    out = startJsonStream(c);
    for (const h of held) chain = chain.then(() => out!.write(h));
  }
  await chain;
  out.end();
}

export async function pullImage(c: Call, ref: string): Promise<void> {
  const platform = qStr(c, 'platform');
  const auth = registryAuth(c);
  await streamProgress(c, async (emit) => {
    await c.engine.pullImage(ref, { ...auth, ...(platform ? { platform } : {}) }, emit);
  });
}

export async function pushImage(c: Call, ref: string): Promise<void> {
  const auth = registryAuth(c);
  // The engine's progress starts with "The push refers to repository [...]" itself.
  await streamProgress(c, async (emit) => {
    await c.engine.pushImage(ref, undefined, auth, emit);
  });
}

export async function searchImages(c: Call): Promise<void> {
  const term = qStr(c, 'term');
  if (!term) throw new ApiError(400, 'search needs a term: ?term=busybox');
  const rows = await c.engine.searchImages(term, { limit: qInt(c, 'limit'), ...registryAuth(c) });
  ok(c, rows.map((r) => ({ name: r.Name, description: r.Description, star_count: r.Stars, is_official: r.Official === '[OK]', is_automated: r.Automated === '[OK]' })));
}

/** POST /auth: checks the credentials; they are kept by the client, not by the server. */
export async function auth(c: Call): Promise<void> {
  const body = await readJson(c);
  const username = typeof body.username === 'string' ? body.username : undefined;
  const password = typeof body.password === 'string' ? body.password : undefined;
  const server = typeof body.serveraddress === 'string' && body.serveraddress ? body.serveraddress : undefined;
  if (!username || password === undefined) throw new ApiError(400, 'username and password are required');
  try {
    await c.engine.login(server, { username, password, store: false });
  } catch (e) {
    throw new ApiError(401, `login failed: ${messageOf(e)}`);
  }
  ok(c, { Status: 'Login Succeeded', IdentityToken: '' });
}
