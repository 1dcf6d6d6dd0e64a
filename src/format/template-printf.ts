// Go fmt.Sprintf for template values: verbs %v %s %d %q %t %x %X %o %b %c %U %e %f %g,
// flags '-', '+', ' ', '0', '#', widths and precisions (including '*').
// Deviation: %s of a number or bool prints its %v form instead of %!s(int=1).

import {
  fmtE, fmtF, fmtG, formatNumber, formatV, isHooked, isPlainObject, listItems, sortedEntries, stringHook, typeName,
} from './template-value.js';

interface Spec {
  minus: boolean; plus: boolean; space: boolean; zero: boolean; sharp: boolean;
  width: number; prec: number; verb: string;
}

const runeLen = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

function pad(s: string, spec: Spec, zeroOk = true): string {
  const len = runeLen(s);
  if (spec.width <= len) return s;
  const fill = spec.width - len;
  if (spec.minus) return s + ' '.repeat(fill);
  return (spec.zero && zeroOk ? '0' : ' ').repeat(fill) + s;
}

/** Go strconv.Quote. */
export function goQuote(s: string, q = '"'): string {
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === q || ch === '\\') { out += '\\' + ch; continue; }
    const esc = ({ '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' } as Record<string, string | undefined>)[ch];
    if (esc) out += esc;
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (c < 0x10000) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += '\\U' + c.toString(16).padStart(8, '0');
  }
  return out + q;
}

function badVerb(v: unknown, verb: string): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${formatV(v)})`;
}

function withSign(body: string, neg: boolean, spec: Spec): string {
  const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  if (spec.zero && !spec.minus && spec.width > 0) {
    const need = spec.width - sign.length - runeLen(body);
    if (need > 0) body = '0'.repeat(need) + body;
  }
  return pad(sign + body, spec, false);
}

function fmtInteger(n: number, spec: Spec): string {
  const { verb } = spec;
  if (verb === 'c') return pad(String.fromCodePoint(n), spec, false);
  if (verb === 'q') return pad(goQuote(String.fromCodePoint(n), "'"), spec, false);
  if (verb === 'U') {
    let s = 'U+' + n.toString(16).toUpperCase().padStart(4, '0');
    if (spec.sharp) s += ` '${String.fromCodePoint(n)}'`;
    return pad(s, spec, false);
  }
  const base = verb === 'b' ? 2 : verb === 'o' || verb === 'O' ? 8 : verb === 'x' || verb === 'X' ? 16 : 10;
  const neg = n < 0;
  const abs = Math.abs(n);
  let digits = abs < 2 ** 53 ? abs.toString(base) : BigInt(abs).toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  if (spec.prec >= 0) {
    digits = spec.prec === 0 && abs === 0 ? '' : digits.padStart(spec.prec, '0');
  } else if (spec.zero && !spec.minus && spec.width > 0) {
    digits = digits.padStart(spec.width - (neg || spec.plus || spec.space ? 1 : 0), '0');
  }
  let prefix = '';
  if (verb === 'O') prefix = '0o';
  else if (spec.sharp) prefix = base === 2 ? '0b' : base === 16 ? (verb === 'X' ? '0X' : '0x') : base === 8 && digits[0] !== '0' ? '0' : '';
  const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  return pad(sign + prefix + digits, spec, false);
}

function fmtFloat(n: number, spec: Spec): string {
  const { verb } = spec;
  const upper = verb === 'E' || verb === 'G';
  if (Number.isNaN(n)) return pad(spec.plus ? '+NaN' : spec.space ? ' NaN' : 'NaN', spec, false);
  if (!Number.isFinite(n)) return pad(n > 0 ? (spec.plus ? '+Inf' : spec.space ? ' Inf' : '+Inf') : '-Inf', spec, false);
  const neg = n < 0 || Object.is(n, -0);
  const abs = Math.abs(n);
  let body: string;
  switch (verb) {
    case 'e': case 'E': body = fmtE(abs, spec.prec < 0 ? 6 : spec.prec, upper); break;
    case 'f': case 'F': body = fmtF(abs, spec.prec < 0 ? 6 : spec.prec); break;
    default: body = fmtG(abs, spec.prec, upper);
  }
  return withSign(body, neg, spec);
}

function fmtString(s: string, spec: Spec): string {
  if (spec.verb === 'v' && spec.sharp) return pad(goQuote(s), spec);
  switch (spec.verb) {
    case 'v':
    case 's':
      return pad(spec.prec >= 0 ? [...s].slice(0, spec.prec).join('') : s, spec);
    case 'q': return pad(spec.sharp && !s.includes('`') ? '`' + s + '`' : goQuote(s), spec);
    case 'x': case 'X': {
      let h = Buffer.from(spec.prec >= 0 ? [...s].slice(0, spec.prec).join('') : s, 'utf8').toString('hex');
      if (spec.verb === 'X') h = h.toUpperCase();
      return pad(h, spec);
    }
    default: return badVerb(s, spec.verb);
  }
}

function fmtArg(v: unknown, spec: Spec, depth = 0): string {
  const { verb } = spec;
  if (v === null || v === undefined) return verb === 'v' ? pad('<nil>', spec, false) : badVerb(v, verb);
  if (typeof v === 'string') return fmtString(v, spec);
  if (typeof v === 'boolean') return verb === 't' || verb === 'v' || verb === 's' ? pad(String(v), spec, false) : badVerb(v, verb);
  if (typeof v === 'bigint') v = Number(v);
  if (typeof v === 'number') {
    if (Number.isInteger(v)) {
      if ('vdbcoOqxXU'.includes(verb)) return fmtInteger(v, spec);
      if ('eEfFgG'.includes(verb)) return fmtFloat(v, spec);
      if (verb === 's') return pad(formatNumber(v), spec, false);
      return badVerb(v, verb);
    }
    if ('veEfFgG'.includes(verb)) return fmtFloat(v, spec);
    if (verb === 's') return pad(formatNumber(v), spec, false);
    return badVerb(v, verb);
  }
  if (typeof v !== 'object') return pad(formatV(v), spec);
  // A table header cell prints as its text whatever the verb, keeping the width.
  if (isHooked(v)) return fmtString(v[stringHook](), { ...spec, verb: 's', prec: -1 });
  if (v instanceof Date || v instanceof Error) return fmtString(formatV(v), spec);
  if (v instanceof Uint8Array && 'sqxX'.includes(verb)) return fmtString(Buffer.from(v).toString('utf8'), spec);
  if (depth > 32) return '...';
  const items = listItems(v);
  if (items) return '[' + items.map((e) => fmtArg(e, spec, depth + 1)).join(' ') + ']';
  if (!(v instanceof Map) && !isPlainObject(v) && verb !== 'v') return fmtString(formatV(v), spec);
  return 'map[' + sortedEntries(v as object).map(([k, x]) => `${fmtArg(k, spec, depth + 1)}:${fmtArg(x, spec, depth + 1)}`).join(' ') + ']';
}

/** Go's fmt.Sprintf. */
export function sprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let argi = 0;
  let i = 0;
  const n = format.length;
  const readNum = (): number => {
    let num = -1;
    while (i < n && format[i]! >= '0' && format[i]! <= '9') num = (num < 0 ? 0 : num * 10) + Number(format[i++]);
    return num;
  };
  const starArg = (): number => {
    const a = args[argi++];
    return typeof a === 'number' && Number.isInteger(a) ? a : Number.NaN;
  };
  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct < 0) { out += format.slice(i); break; }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec: Spec = { minus: false, plus: false, space: false, zero: false, sharp: false, width: -1, prec: -1, verb: '' };
    for (; i < n; i++) {
      const c = format[i];
      if (c === '-') { spec.minus = true; spec.zero = false; } else if (c === '+') spec.plus = true;
      else if (c === ' ') spec.space = true;
      else if (c === '0') spec.zero = !spec.minus;
      else if (c === '#') spec.sharp = true;
      else break;
    }
    if (format[i] === '[') {
      const close = format.indexOf(']', i);
      const idx = Number(format.slice(i + 1, close));
      if (close > 0 && Number.isInteger(idx) && idx >= 1) { argi = idx - 1; i = close + 1; }
    }
    let badWidth = false;
    if (format[i] === '*') {
      i++;
      const w = starArg();
      if (Number.isNaN(w)) badWidth = true;
      else if (w < 0) { spec.minus = true; spec.zero = false; spec.width = -w; } else spec.width = w;
    } else spec.width = readNum();
    let badPrec = false;
    if (format[i] === '.') {
      i++;
      if (format[i] === '*') {
        i++;
        const p = starArg();
        if (Number.isNaN(p)) badPrec = true;
        else spec.prec = p < 0 ? -1 : p;
      } else spec.prec = Math.max(readNum(), 0);
    }
    if (i >= n) { out += '%!(NOVERB)'; break; }
    const cp = format.codePointAt(i)!;
    spec.verb = String.fromCodePoint(cp);
    i += spec.verb.length;
    if (badWidth) out += '%!(BADWIDTH)';
    if (badPrec) out += '%!(BADPREC)';
    if (spec.verb === '%') { out += '%'; continue; }
    if (argi >= args.length) { out += `%!${spec.verb}(MISSING)`; continue; }
    const arg = args[argi++];
    if (spec.verb === 'T') { out += pad(typeName(arg), spec, false); continue; }
    out += fmtArg(arg, spec);
  }
  if (argi < args.length) {
    out += '%!(EXTRA ' + args.slice(argi).map((a) => (a === null || a === undefined ? '<nil>' : `${typeName(a)}=${formatV(a)}`)).join(', ') + ')';
  }
  return out;
}
