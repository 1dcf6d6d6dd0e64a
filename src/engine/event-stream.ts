// Reading the event log: `berth events` (and later the API's /events) with
// --since/--until/--filter, following new rows as other berth processes add them.
import type { EngineContext } from './context.js';
import type { EngineEvent } from './events.js';
import { invalidArgument } from './errors.js';
import { parseTimestamp } from './parse.js';

export interface EventQuery {
  since?: string;
  until?: string;
  filters?: string[];       // type=, event= (or status=), container=, image=, volume=, label=
  follow?: boolean;         // keep waiting for new events (default: when no --until is given)
}

const FILTER_KEYS = ['type', 'event', 'status', 'container', 'image', 'volume', 'label', 'id', 'name'];
const POLL_MS = 200;

function matcher(filters: string[]): (e: EngineEvent) => boolean {
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf('=');
    const key = i < 0 ? '' : f.slice(0, i);
    if (!FILTER_KEYS.includes(key)) throw invalidArgument(`invalid event filter "${f}": use key=value with key one of ${FILTER_KEYS.join(', ')}`);
    byKey.set(key === 'status' ? 'event' : key, [...(byKey.get(key === 'status' ? 'event' : key) ?? []), f.slice(i + 1)]);
  }
  // Values of one key are alternatives; different keys must all match (Docker's rule).
  return (e) => [...byKey].every(([key, values]) => values.some((v) => {
    switch (key) {
      case 'type': return e.type === v;
      case 'event': return e.action === v;
      case 'container': return e.type === 'container' && (e.id.startsWith(v) || e.name === v);
      case 'id': return e.id.startsWith(v);
      case 'name': return e.name === v;
      case 'image': return (e.type === 'image' && (e.id.startsWith(v) || e.name === v)) || e.attributes.image === v || (e.attributes.image ?? '').endsWith('/' + v) || (e.attributes.image ?? '').endsWith('/' + v + ':latest');
      case 'volume': return e.type === 'volume' && (e.id === v || e.name === v);
      case 'label': {
        const j = v.indexOf('=');
        return j < 0 ? v in e.attributes : e.attributes[v.slice(0, j)] === v.slice(j + 1);
      }
      default: return false;
    }
  }));
}

/** Yields matching events in order; with `follow`, waits for new ones until `until` (or forever). */
export async function* readEvents(ctx: EngineContext, q: EventQuery, signal?: AbortSignal): AsyncGenerator<EngineEvent> {
  const match = matcher(q.filters ?? []);
  const now = BigInt(Date.now()) * 1_000_000n;
  const sinceUs = q.since ? Number(parseTimestamp(q.since, '--since', now) / 1000n) : undefined;
  const untilUs = q.until ? Number(parseTimestamp(q.until, '--until', now) / 1000n) : undefined;
  if (sinceUs !== undefined && untilUs !== undefined && untilUs < sinceUs) throw invalidArgument('--until is before --since');
  // With an --until in the future, follow until then.
  const follow = q.follow ?? (untilUs === undefined || untilUs > Date.now() * 1000);
  // Without --since, a follower sees only new events (like `docker events`).
  let seq = sinceUs === undefined && follow ? ctx.events.lastSeq() : 0;
  for (;;) {
    const batch = ctx.events.since(seq, 500);
    for (const e of batch) {
      seq = e.seq;
      if (untilUs !== undefined && e.time > untilUs) return;
      if (sinceUs !== undefined && e.time < sinceUs) continue;
      if (match(e)) yield e;
    }
    if (batch.length === 500) continue;
    if (!follow || signal?.aborted) return;
    if (untilUs !== undefined && Date.now() * 1000 > untilUs) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
