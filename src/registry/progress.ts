// Progress of pulls and pushes as Docker's JSON progress messages (what
// /images/create and /images/{name}/push stream). The engine emits them through
// a callback; the CLI renders them (per-layer lines on a terminal, plain lines
// otherwise) and the Docker API writes them as they are.

export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  aux?: Record<string, unknown>;
  error?: string;
  errorDetail?: { message: string; code?: number };
}

export type ProgressCallback = (m: ProgressMessage) => void;

/** Docker's short layer id: 12 hex digits of the digest. */
export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** Sizes as Docker's progress bars print them (decimal units: 22.02kB, 2.152MB). */
export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return i === 0 ? `${n}B` : `${v.toPrecision(4).replace(/\.?0+$/, '')}${units[i]}`;
}

/** Docker's `progress` text: "[=====>      ]  22.02kB/2.152MB" (as moby's jsonmessage draws it). */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return humanBytes(current);
  const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  return `[${'='.repeat(pct)}>${' '.repeat(50 - pct)}] ${humanBytes(current).padStart(8)}/${humanBytes(total)}`;
}

/**
 * Emits byte-count messages for one layer at most every `intervalMs`, plus the
 * last one, so a fast transfer does not flood the consumer.
 */
export class ByteProgress {
  private last = 0;
  constructor(private emit: ProgressCallback | undefined, private id: string, private status: string, private total: number, private intervalMs = 100) {}

  update(current: number, force = false): void {
    if (!this.emit) return;
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs && current < this.total) return;
    this.last = now;
    this.emit({ status: this.status, id: this.id, progressDetail: { current, total: this.total }, progress: progressBar(current, this.total) });
  }

  /** A status change of this layer ("Download complete", "Extracting"). */
  state(status: string): void {
    this.emit?.(statusMessage(status, this.id));
  }
}

export function statusMessage(status: string, id?: string): ProgressMessage {
  return id ? { status, progressDetail: {}, id } : { status };
}
