// Renders Docker JSON progress messages (pull, push) on stderr: on a terminal
// one line per layer, redrawn in place with bytes and speed; otherwise one
// plain line per status change (byte counts skipped, as the docker CLI does);
// nothing when quiet.
import tty from 'node:tty';
import type { ProgressMessage } from '../engine/engine.js';
import { writeOut } from './output-fd.js';

export interface ProgressView {
  onMessage: (m: ProgressMessage) => void;
  /** Draws the final state; call once when the operation ended (or failed). */
  done(): void;
}

const DONE_STATES = new Set(['Download complete', 'Pushed']);

function size(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return i === 0 ? `${n}B` : `${v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

/** Bytes and speed of one layer's transfer. */
class Meter {
  start = Date.now();
  end = 0;
  current = 0;
  total = 0;
  update(m: ProgressMessage): void {
    this.current = m.progressDetail?.current ?? this.current;
    this.total = m.progressDetail?.total ?? this.total;
    // The clock stops with the last byte (unpacking may go on).
    this.end = this.total && this.current >= this.total ? Date.now() : 0;
  }
  private seconds(): number {
    return ((this.end || Date.now()) - this.start) / 1000;
  }
  speed(): string {
    const s = this.seconds();
    return s > 0.05 && this.current ? `${size(this.current / s)}/s` : '';
  }
  summary(): string {
    const s = this.seconds();
    return this.current ? ` (${size(this.current)} in ${s.toFixed(1)}s, ${size(this.current / Math.max(s, 0.001))}/s)` : '';
  }
}

export function progressView(quiet: boolean, fd: 1 | 2 = 2): ProgressView {
  if (quiet) return { onMessage: () => undefined, done: () => undefined };
  return tty.isatty(fd) ? ttyView(fd) : plainView(fd);
}

function plainView(fd: 1 | 2): ProgressView {
  const meters = new Map<string, Meter>();
  const last = new Map<string, string>();
  return {
    onMessage(m) {
      if (!m.status || m.aux) return;
      if (!m.id) { writeOut(fd, m.status + '\n'); return; }
      let meter = meters.get(m.id);
      if (m.progressDetail?.current !== undefined) {
        if (!meter) meters.set(m.id, (meter = new Meter()));
        meter.update(m);
        return;
      }
      if (last.get(m.id) === m.status) return;
      last.set(m.id, m.status);
      writeOut(fd, `${m.id}: ${m.status}${DONE_STATES.has(m.status) && meter ? meter.summary() : ''}\n`);
    },
    done() { /* every line is already out */ },
  };
}

function ttyView(fd: 1 | 2): ProgressView {
  const ids: string[] = [];
  const lines = new Map<string, string>();
  const meters = new Map<string, Meter>();
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const cols = () => (fd === 2 ? process.stderr.columns : process.stdout.columns) || 80;
  const draw = () => {
    timer = undefined;
    if (!ids.length) return;
    const width = cols() - 1;
    let out = drawn ? `\x1b[${drawn}A` : '';
    for (const id of ids) out += `\x1b[2K${(lines.get(id) ?? '').slice(0, width)}\n`;
    drawn = ids.length;
    writeOut(fd, out);
  };
  // The first state shows at once; later changes are drawn at most every 100 ms.
  const schedule = () => { if (!drawn) draw(); else timer ??= setTimeout(draw, 100); };
  /** Finishes the current block of layer lines; later lines start below it. */
  const freeze = () => {
    if (timer) { clearTimeout(timer); draw(); }
    ids.length = 0;
    drawn = 0;
  };
  return {
    onMessage(m) {
      if (m.aux || (!m.status && !m.error)) return;
      if (!m.id) { freeze(); writeOut(fd, (m.status ?? m.error) + '\n'); return; }
      if (!lines.has(m.id)) ids.push(m.id);
      let meter = meters.get(m.id);
      if (m.progressDetail?.current !== undefined) {
        if (!meter) meters.set(m.id, (meter = new Meter()));
        meter.update(m);
        const total = meter.total ? `/${size(meter.total)}` : '';
        lines.set(m.id, `${m.id}: ${m.status} ${size(meter.current)}${total}  ${meter.speed()}`);
      } else {
        const finished = DONE_STATES.has(m.status ?? '') || m.status === 'Pull complete';
        lines.set(m.id, `${m.id}: ${m.status}${finished && meter ? meter.summary() : ''}`);
      }
      schedule();
    },
    done() { freeze(); },
  };
}
