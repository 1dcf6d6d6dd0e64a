// Connecting the user's terminal (or pipes) to an attach session: raw mode,
// window size, and the detach key sequence (ctrl-p,ctrl-q by default).
import { PassThrough } from 'node:stream';
import type { CliIO } from './command.js';
import type { AttachStreams, AttachSession } from '../engine/engine.js';
import { invalidArgument } from '../engine/errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** "ctrl-p,ctrl-q" → [0x10, 0x11]; "" disables detaching. */
export function parseDetachKeys(spec: string): number[] {
  if (spec === '') return [];
  return spec.split(',').map((k) => {
    const ctrl = /^ctrl-(.)$/i.exec(k);
    if (ctrl) {
      const ch = ctrl[1]!;
      const code = ch === '@' ? 0 : ch === '[' ? 27 : ch === '\\' ? 28 : ch === ']' ? 29 : ch === '^' ? 30 : ch === '_' ? 31 : ch.toLowerCase().charCodeAt(0) - 96;
      if (code < 0 || code > 31) throw invalidArgument(`invalid detach key "${k}": use ctrl-<a-z|@|[|\\|]|^|_> or a single character`);
      return code;
    }
    if (k.length === 1) return k.charCodeAt(0);
    throw invalidArgument(`invalid detach key "${k}": use a comma-separated list like ctrl-p,ctrl-q`);
  });
}

export interface TerminalLink {
  streams: AttachStreams;
  /** Hook up resizing and detaching once the session exists. */
  bind(session: AttachSession): void;
  /** True once the user typed the detach keys. */
  readonly detached: boolean;
  restore(): void;
}

export function linkTerminal(io: CliIO, o: { tty: boolean; stdin: boolean; detachKeys: string }): TerminalLink {
  const keys = parseDetachKeys(o.detachKeys);
  const { stdin, stdout, stderr } = io;
  const raw = o.tty && o.stdin && stdin.isTTY;
  let session: AttachSession | undefined;
  let detached = false;
  const streams: AttachStreams = { stdout: (d) => stdout.write(d), stderr: (d) => stderr.write(d), tty: o.tty };
  if (o.tty && stdout.isTTY) streams.size = { rows: stdout.rows, cols: stdout.columns };
  let filtered: PassThrough | undefined;
  const onInput = (chunk: Buffer) => {
    if (!keys.length) { filtered!.write(chunk); return; }
    // Withhold a possible start of the detach sequence until it completes or breaks.
    for (const byte of chunk) {
      if (byte === keys[matched]) {
        matched++;
        if (matched === keys.length) { detached = true; session?.detach(); return; }
        continue;
      }
      if (matched) { filtered!.write(Buffer.from(keys.slice(0, matched))); matched = 0; }
      if (byte === keys[0]) { matched = 1; if (keys.length === 1) { detached = true; session?.detach(); return; } continue; }
      filtered!.write(Buffer.from([byte]));
    }
  };
  let matched = 0;
  if (o.stdin) {
    filtered = new PassThrough();
    stdin.on('data', onInput);
    stdin.on('end', () => filtered!.end());
    streams.stdin = filtered;
    if (raw) stdin.setRawMode(true);
  }
  const onResize = () => session?.resize(stdout.rows, stdout.columns);
  return {
    streams,
    get detached() { return detached; },
    bind(s) {
      session = s;
      if (o.tty && stdout.isTTY) stdout.on('resize', onResize);
    },
    restore() {
      if (raw) stdin.setRawMode(false);
      if (o.stdin) { stdin.off('data', onInput); stdin.pause(); }
      stdout.off('resize', onResize);
    },
  };
}
