// The streaming container calls: attach (before or after start), wait (headers
// at once, body when the condition holds), logs, stats, archive (docker cp) and
// export.
import type { Call, Router } from './router.js';
import { qBool, qStr } from './router.js';
import { commonHeaders, noContent, ok, send, startJsonStream } from './respond.js';
import { ApiError, noSuchPath, orNotFound } from './errors.js';
import { openStream, detachFilter, detachKeys, type StreamOut } from './streams.js';
import { container } from './containers.js';
import { idleStats, statsView } from './views.js';
import type { PendingAttach, Run } from './state.js';
import type { AttachSession, AttachStreams } from '../../engine/engine.js';
import type { ContainerRecord } from '../../engine/container-types.js';
import { isBerthError, messageOf } from '../../engine/errors.js';
import { log } from '../../sys/log.js';

const active = (rec: ContainerRecord) => rec.state === 'running' || rec.state === 'paused';
/** Exited, but its exit not handled yet (by conmon's exit command or an attached berth): no "die" yet. */
const exitPending = (rec: ContainerRecord) => rec.state === 'stopped';

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

// ---------- attach ----------

/** Writes the logs so far (attach with logs=1). */
async function replayLogs(c: Call, rec: ContainerRecord, out: StreamOut): Promise<void> {
  if (rec.config.logDriver === 'none') return;
  await c.engine.containerLogs(rec.config.id, {}, { stdout: out.stdout, stderr: out.stderr }).catch(() => undefined);
}

async function attach(c: Call): Promise<void> {
  const rec = container(c);
  const id = rec.config.id;
  const wantStdin = qBool(c, 'stdin') && rec.config.openStdin;
  const wantOut = qBool(c, 'stdout'), wantErr = qBool(c, 'stderr');
  const { out, stdin } = openStream(c, rec.config.tty, { stdin: wantStdin && !!c.hijack });
  const filtered: StreamOut = {
    stdout: wantOut ? out.stdout : () => {}, stderr: wantErr ? out.stderr : () => {},
    drain: out.drain, end: out.end, done: out.done, get closed() { return out.closed; },
  };
  if (qBool(c, 'logs')) await replayLogs(c, rec, filtered);
  if (!qBool(c, 'stream')) return out.end();
  let detach = () => out.end();
  const input = stdin?.pipe(detachFilter(detachKeys(qStr(c, 'detachKeys')), () => detach()));
  const now = c.engine.getContainer(id);
  if (!active(now)) {
    // Docker attaches before it starts: this client waits for POST /start.
    const pending: PendingAttach = { out: filtered, stdin: input, close: () => out.end() };
    c.state.attaches.add(id, pending);
    probeWhileWaiting(c, rec.config.tty, out);
    return;
  }
  let session: AttachSession;
  try {
    session = await c.engine.attachContainer(id, { stdout: filtered.stdout, stderr: filtered.stderr, stdin: input });
  } catch (e) {
    log.debug(`api: attach ${id}: ${messageOf(e)}`);
    return out.end();
  }
  detach = () => { session.detach(); out.end(); };
  void out.done.then(() => session.detach());
  await session.done;
  out.end();
}

/**
 * A client waiting for a start may have half-closed (the docker CLI does when it
 * sends no stdin) or gone away: the two look the same until something is written.
 * Without a tty an empty frame is harmless to every client, so probe with one
 * every few seconds; a gone client then fails the write and is dropped.
 */
function probeWhileWaiting(c: Call, tty: boolean, out: StreamOut): void {
  const socket = c.hijack?.socket;
  if (!socket || tty) return;
  socket.once('end', () => {
    const timer = setInterval(() => {
      if (out.closed || socket.destroyed) return clearInterval(timer);
      socket.write(EMPTY_FRAME);
    }, PROBE_MS);
    timer.unref();
    void out.done.then(() => clearInterval(timer));
  });
}

const PROBE_MS = 2000;
const EMPTY_FRAME = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);

/**
 * Starts a container that clients attached to beforehand: their streams go into
 * the start (no output is lost), and this server then waits for the exit and
 * cleans up, as an attached `berth run` would, whether or not they stay.
 */
export async function startWithClients(c: Call, rec: ContainerRecord, clients: PendingAttach[]): Promise<void> {
  const id = rec.config.id;
  const exited = deferred<number>(), finished = deferred<void>();
  const run: Run = { exited: exited.promise, finished: finished.promise };
  c.state.runs.started(id, run);
  const streams: AttachStreams = {
    stdout: (d) => { for (const cl of clients) cl.out.stdout(d); },
    stderr: (d) => { for (const cl of clients) cl.out.stderr(d); },
    stdin: clients.find((cl) => cl.stdin)?.stdin,
  };
  let session: AttachSession | undefined;
  try {
    session = await c.engine.startContainer(id, streams);
  } catch (e) {
    for (const cl of clients) cl.close();
    const after = c.engine.containerExists(id) ? c.engine.getContainer(id) : undefined;
    exited.resolve(after?.status.exitCode || (isBerthError(e, 'command-not-found') ? 127 : isBerthError(e, 'cannot-invoke') ? 126 : 125));
    if (rec.config.autoRemove) await c.engine.removeContainer(id, { force: true }).catch(() => undefined);
    finished.resolve();
    throw e;
  }
  noContent(c);
  void followRun(c, id, session, clients, exited.resolve).finally(() => finished.resolve());
}

async function followRun(c: Call, id: string, session: AttachSession | undefined, clients: PendingAttach[], exited: (code: number) => void): Promise<void> {
  if (session) {
    // When every client has gone, stop pumping; the container runs on and we still clean up.
    let open = clients.length;
    for (const cl of clients) void cl.out.done.then(() => { if (--open === 0) session.detach(); });
    // A broken stream must not skip the wait and cleanup below.
    await session.done.catch((e: unknown) => log.warn(`api: attach to container ${id.slice(0, 12)} failed: ${messageOf(e)}`));
  }
  for (const cl of clients) cl.close();
  let code = -1;
  try { code = await c.engine.waitContainer(id); } catch (e) { log.debug(`api: wait ${id}: ${messageOf(e)}`); }
  exited(code);
  try {
    await c.engine.cleanupContainer(id, { attached: true });
  } catch (e) {
    log.warn(`api: cleanup of container ${id.slice(0, 12)} failed: ${messageOf(e)}`);
  }
}

// ---------- wait ----------

/** Polls the Engine for a start that this server did not make (the CLI's `berth start`). */
async function startedElsewhere(c: Call, id: string, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    if (!c.engine.containerExists(id) || active(c.engine.getContainer(id))) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves once the container has started (by anyone), is gone, or the client left. */
async function untilStarted(c: Call, id: string): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  c.signal.addEventListener('abort', onAbort);
  try {
    await Promise.race([c.state.runs.nextStart(id, stop.signal), startedElsewhere(c, id, stop.signal)]);
  } finally {
    stop.abort();
    c.signal.removeEventListener('abort', onAbort);
  }
}

/** The exit code once the exit has been handled (recorded, "die" written, --rm applied), as Docker's wait. */
async function exitCodeOf(c: Call, id: string, run: Run | undefined): Promise<number> {
  if (run) {
    const code = await run.exited;
    await run.finished;
    return code;
  }
  return c.engine.waitContainerCondition(id, 'not-running', c.signal);
}

async function untilRemoved(c: Call, id: string, run: Run | undefined): Promise<void> {
  if (run) await run.finished;
  if (!c.engine.containerExists(id)) return;
  try { await c.engine.waitContainerCondition(id, 'removed', c.signal); } catch (e) { if (!isBerthError(e, 'not-found')) throw e; }
}

/** Docker's conditions: not-running (default), next-exit, removed. Returns the exit code. */
async function waitCondition(c: Call, rec: ContainerRecord, condition: string): Promise<number> {
  const id = rec.config.id;
  let run = c.state.runs.get(id);
  if (condition === 'not-running') return active(rec) || exitPending(rec) || run ? exitCodeOf(c, id, run) : rec.status.exitCode;
  if (!run && !active(rec)) {
    if (condition === 'removed' && rec.state !== 'created') {
      await untilRemoved(c, id, undefined);
      return rec.status.exitCode;
    }
    await untilStarted(c, id);
    if (c.signal.aborted) throw new Error('client gone');
    run = c.state.runs.get(id);
    if (!run && !c.engine.containerExists(id)) return 0;
  }
  const code = await exitCodeOf(c, id, run);
  if (condition === 'removed') await untilRemoved(c, id, run);
  return code;
}

async function wait(c: Call): Promise<void> {
  const rec = container(c);
  const condition = qStr(c, 'condition') ?? 'not-running';
  if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new ApiError(400, `invalid condition: "${condition}"`);
  // Headers at once: `docker run` waits for them before it calls /start.
  const res = c.res!;
  res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/json' });
  res.flushHeaders();
  try {
    const code = await waitCondition(c, rec, condition);
    res.end(JSON.stringify({ Error: null, StatusCode: code }) + '\n');
  } catch (e) {
    if (c.signal.aborted) return;
    res.end(JSON.stringify({ Error: { Message: messageOf(e) }, StatusCode: -1 }) + '\n');
  }
}

// ---------- logs ----------

async function logs(c: Call): Promise<void> {
  const rec = container(c);
  const stdout = qBool(c, 'stdout'), stderr = qBool(c, 'stderr');
  if (!stdout && !stderr) throw new ApiError(400, 'Bad parameters: you must choose at least one stream');
  const tailRaw = qStr(c, 'tail');
  const tail = tailRaw === undefined || tailRaw === 'all' ? undefined : Number(tailRaw);
  if (tail !== undefined && !Number.isInteger(tail)) throw new ApiError(400, `invalid tail "${tailRaw}": use all or a number of lines`);
  const since = qStr(c, 'since'), until = qStr(c, 'until');
  const opts = {
    follow: qBool(c, 'follow'), timestamps: qBool(c, 'timestamps'), tail, signal: c.signal,
    since: since && since !== '0' ? since : undefined, until: until && until !== '0' ? until : undefined,
  };
  if (rec.config.logDriver === 'none') throw new ApiError(501, `configured logging driver does not support reading: container ${rec.config.name} uses the "none" log driver`);
  const { out } = openStream(c, rec.config.tty);
  const gone = () => { if (out.closed) throw new Error('client gone'); };
  try {
    await c.engine.containerLogs(rec.config.id, opts, {
      stdout: async (d) => { gone(); if (stdout) { out.stdout(d); await out.drain(); } },
      stderr: async (d) => { gone(); if (stderr) { out.stderr(d); await out.drain(); } },
    });
  } catch (e) {
    if (!out.closed) log.debug(`api: logs ${rec.config.id}: ${messageOf(e)}`);
  }
  out.end();
}

// ---------- stats ----------

async function stats(c: Call): Promise<void> {
  const rec = container(c);
  const stream = qBool(c, 'stream', true) && !qBool(c, 'one-shot');
  if (!active(rec)) {
    if (!stream) return ok(c, idleStats(rec));
  }
  const out = startJsonStream(c);
  if (!active(rec)) {
    // Not running: moby sends zeros until it starts; we send one and end.
    await out.write(idleStats(rec));
    return out.end();
  }
  const gen = c.engine.containerStats([rec.config.id], { firstMs: qBool(c, 'one-shot') ? 10 : 200, intervalMs: 1000 });
  const stop = () => { void gen.return(undefined); };
  c.signal.addEventListener('abort', stop);
  let preread = new Date().toISOString();
  try {
    for await (const round of gen) {
      for (const s of round) await out.write(statsView(s, rec, preread));
      preread = new Date().toISOString();
      if (!stream || out.closed) break;
    }
  } catch (e) {
    log.debug(`api: stats ${rec.config.id}: ${messageOf(e)}`);
  } finally {
    c.signal.removeEventListener('abort', stop);
  }
  out.end();
}

// ---------- archive (docker cp) and export ----------

/** Go's os.FileMode bits from a POSIX st_mode (what the CLI decodes). */
function goFileMode(mode: number): number {
  const type = mode & 0o170000;
  let m = mode & 0o777;
  if (type === 0o040000) m += 2 ** 31;
  else if (type === 0o120000) m += 2 ** 27;
  else if (type === 0o010000) m += 2 ** 25;
  else if (type === 0o140000) m += 2 ** 24;
  else if (type === 0o020000) m += 2 ** 26 + 2 ** 21;
  else if (type === 0o060000) m += 2 ** 26;
  if (mode & 0o4000) m += 2 ** 23;
  if (mode & 0o2000) m += 2 ** 22;
  if (mode & 0o1000) m += 2 ** 20;
  return m;
}

async function statHeader(c: Call, rec: ContainerRecord, path: string): Promise<string> {
  try {
    const st = await c.engine.statContainerPath(rec.config.id, path);
    return Buffer.from(JSON.stringify({ name: st.name, size: st.size, mode: goFileMode(st.mode), mtime: st.mtime, linkTarget: st.linkTarget })).toString('base64');
  } catch (e) {
    throw orNotFound(e, noSuchPath(path, c.params.id!));
  }
}

function archivePath(c: Call): string {
  const path = qStr(c, 'path');
  if (!path) throw new ApiError(400, 'a path is needed: ?path=/dir/in/container');
  return path;
}

async function archiveHead(c: Call): Promise<void> {
  const rec = container(c);
  const header = await statHeader(c, rec, archivePath(c));
  send(c, 200, undefined, { 'X-Docker-Container-Path-Stat': header, 'Content-Type': 'application/x-tar' });
}

async function archiveGet(c: Call): Promise<void> {
  const rec = container(c);
  const path = archivePath(c);
  const header = await statHeader(c, rec, path);
  const res = c.res!;
  res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': header });
  try {
    await c.engine.copyFromContainer(rec.config.id, path, { tar: res }, { pause: false });
    res.end();
  } catch (e) {
    log.debug(`api: archive ${rec.config.id}:${path}: ${messageOf(e)}`);
    res.destroy();
  }
}

async function archivePut(c: Call): Promise<void> {
  const rec = container(c);
  const path = archivePath(c);
  try {
    await c.engine.copyToContainer(rec.config.id, path, { tar: c.req }, { archive: qBool(c, 'copyUIDGID'), pause: false });
  } catch (e) {
    throw orNotFound(e, noSuchPath(path, c.params.id!));
  }
  send(c, 200);
}

async function exportContainer(c: Call): Promise<void> {
  const rec = container(c);
  const res = c.res!;
  res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/x-tar' });
  try {
    await c.engine.exportContainer(rec.config.id, res);
    res.end();
  } catch (e) {
    log.debug(`api: export ${rec.config.id}: ${messageOf(e)}`);
    res.destroy();
  }
}

export function containerStreamRoutes(r: Router): void {
  r.add('POST', '/containers/:id/attach', attach)
    .add('POST', '/containers/:id/wait', wait)
    .add('GET', '/containers/:id/logs', logs)
    .add('GET', '/containers/:id/stats', stats)
    .add('HEAD', '/containers/:id/archive', archiveHead)
    .add('GET', '/containers/:id/archive', archiveGet)
    .add('PUT', '/containers/:id/archive', archivePut)
    .add('GET', '/containers/:id/export', exportContainer);
}
