// The DNS wire format, as much as a container-name resolver needs (RFC 1035):
// parse a query's question, build A answers and empty or NXDOMAIN replies.

export const TYPE_A = 1, TYPE_AAAA = 28, TYPE_PTR = 12, CLASS_IN = 1;

export interface Question { id: number; flags: number; name: string; type: number; cls: number; end: number }

/** The first question of a query, or undefined for anything malformed. */
export function parseQuery(msg: Buffer): Question | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0), flags = msg.readUInt16BE(2), qd = msg.readUInt16BE(4);
  if (flags & 0x8000 || qd < 1) return undefined; // a response, or no question
  const labels: string[] = [];
  let off = 12;
  for (let guard = 0; guard < 128; guard++) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) { off++; break; }
    if (len > 63 || off + 1 + len > msg.length) return undefined; // no compression in questions
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return { id, flags, name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), cls: msg.readUInt16BE(off + 2), end: off + 4 };
}

/** A reply to `query` carrying A records for `ips` (rcode 3 = NXDOMAIN when `nx`). */
export function buildReply(query: Buffer, q: Question, ips: string[], opts: { nx?: boolean; ttl?: number } = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR, opcode copied, AA, RD copied, RA; rcode.
  const flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080 | (opts.nx ? 3 : 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(ips.length, 6);
  const question = query.subarray(12, q.end);
  const answers = ips.map((ip) => {
    const a = Buffer.alloc(16);
    a.writeUInt16BE(0xc00c, 0);          // pointer to the name in the question
    a.writeUInt16BE(TYPE_A, 2);
    a.writeUInt16BE(CLASS_IN, 4);
    a.writeUInt32BE(opts.ttl ?? 5, 6);
    a.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, i) => a.writeUInt8(Number(o), 12 + i));
    return a;
  });
  return Buffer.concat([header, question, ...answers]);
}

/** SERVFAIL for a query we could not forward. */
export function buildFailure(query: Buffer, q: Question): Buffer {
  const r = buildReply(query, q, []);
  r.writeUInt16BE((r.readUInt16BE(2) & 0xfff0) | 2, 2);
  return r;
}
