// Writing answers in Docker's shapes, on a normal response or on a hijacked
// connection (an attach or exec start that failed before upgrading).
import { API_VERSION, type Call } from './router.js';
import { toHttpError } from './errors.js';
import { VERSION } from '../../cli/version.js';
import { log } from '../../sys/log.js';

/** Headers moby sends on every response. */
export function commonHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Ostype': 'linux',
    'Docker-Experimental': 'false',
    'Server': `Berth/${VERSION} (linux)`,
  };
}

const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Payload Too Large', 500: 'Internal Server Error', 501: 'Not Implemented',
};

/** A whole answer: JSON (`Content-Type: application/json` exactly, as the CLI requires), or no body. */
export function send(c: Call, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body) + '\n');
  const all: Record<string, string> = { ...commonHeaders(), ...headers };
  if (payload) all['Content-Type'] ??= 'application/json';
  if (c.hijack) {
    const { socket } = c.hijack;
    if (socket.destroyed) return;
    const lines = [`HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`),
      `Content-Length: ${payload?.length ?? 0}`, 'Connection: close'];
    socket.end(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), payload ?? Buffer.alloc(0)]));
    return;
  }
  const res = c.res!;
  if (res.headersSent) {
    // A streaming answer already started: all we can do is stop it.
    res.destroy();
    return;
  }
  if (payload) all['Content-Length'] = String(payload.length);
  res.writeHead(status, all);
  res.end(status === 204 || status === 304 || c.method === 'HEAD' ? undefined : payload);
}

export const ok = (c: Call, body: unknown, status = 200) => send(c, status, body);
export const noContent = (c: Call, status = 204) => send(c, status);

/** An error as `{"message": …}` with moby's status. */
export function sendError(c: Call, e: unknown): void {
  const { status, message } = toHttpError(e);
  if (status >= 500) log.warn(`api: ${c.method} ${c.path}: ${message}`);
  else log.debug(`api: ${c.method} ${c.path}: ${status} ${message}`);
  send(c, status, { message });
}

/** Starts a JSON-lines answer (events, progress, stats), headers flushed at once. */
export function startJsonStream(c: Call, status = 200): { write(obj: unknown): Promise<void>; end(): void; readonly closed: boolean } {
  const res = c.res!;
  res.writeHead(status, { ...commonHeaders(), 'Content-Type': 'application/json' });
  res.flushHeaders();
  let closed = false;
  res.once('close', () => { closed = true; });
  return {
    write: (obj) => {
      if (closed) return Promise.resolve();
      // moby's stream formatter ends each message with \r\n.
      const more = res.write(JSON.stringify(obj) + '\r\n');
      return more ? Promise.resolve() : new Promise<void>((r) => {
        const fin = () => { res.off('drain', fin); res.off('close', fin); r(); };
        res.on('drain', fin);
        res.on('close', fin);
      });
    },
    end: () => { if (!closed) res.end(); },
    get closed() { return closed; },
  };
}
