// Built-in template functions: Go text/template's predefined set plus the
// Podman/Docker extras (json, upper, lower, title, join, split, truncate, pad,
// contains, hasPrefix, hasSuffix, replace).

import { sprintf } from './template-printf.js';
import {
  fieldHook, formatNumber, stringHook, formatV, isHooked, isPlainObject, listItems, sprint, sprintln, toJSON, truthy, typeName,
} from './template-value.js';

export interface FuncEntry {
  fn: (...args: unknown[]) => unknown;
  min: number;
  max: number;
  /** and/or short-circuit; call receives its function argument uncalled. Handled by the executor. */
  special?: 'and' | 'or' | 'call';
  /**
   * How hooked values (table header cells) are passed: by default converted to their
   * header text; 'keep' passes them as they are; 'passthrough' skips the call and
   * returns the header cell, so the header keeps the column name (as Docker's
   * HeaderFunctions do for json, join, upper, ...).
   */
  header?: 'keep' | 'passthrough';
}

function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (isHooked(v)) return v[stringHook]();
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null || v === undefined) throw new Error('invalid value; expected string');
  throw new Error(`wrong type for value; expected string; got ${typeName(v)}`);
}

function int(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (v === null || v === undefined) throw new Error('invalid value; expected int');
  throw new Error(`wrong type for value; expected int; got ${typeName(v)}`);
}

function strList(v: unknown): string[] {
  const items = listItems(v);
  if (!items) throw new Error(`wrong type for value; expected []string; got ${typeName(v)}`);
  return items.map((e) => (typeof e === 'string' ? e : formatV(e)));
}

type Kind = 'nil' | 'bool' | 'number' | 'string' | 'other';
function kindOf(v: unknown): Kind {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number' || typeof v === 'bigint') return 'number';
  if (typeof v === 'string') return 'string';
  return 'other';
}

function eq(a: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new Error('missing argument for comparison');
  const ka = kindOf(a);
  for (const b of rest) {
    const kb = kindOf(b);
    let truth: boolean;
    if (ka === 'nil' || kb === 'nil') truth = ka === kb;
    else if (ka !== kb) throw new Error('incompatible types for comparison');
    else if (ka !== 'other') truth = a == b; // eslint-disable-line eqeqeq -- number vs bigint
    else if (listItems(a) || listItems(b) || a instanceof Map || b instanceof Map || isPlainObject(a) || isPlainObject(b)) {
      throw new Error(`non-comparable type ${formatV(a)}: ${typeName(a)}`);
    } else if (a instanceof Date && b instanceof Date) truth = a.getTime() === b.getTime();
    else truth = a === b;
    if (truth) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== 'number' && ka !== 'string') throw new Error('invalid type for comparison');
  if (kb !== 'number' && kb !== 'string') throw new Error('invalid type for comparison');
  if (ka !== kb) throw new Error('incompatible types for comparison');
  return (a as number | string) < (b as number | string);
}

function indexArg(i: unknown, len: number): number {
  if (typeof i !== 'number' || !Number.isInteger(i)) throw new Error(`cannot index slice/array with type ${typeName(i)}`);
  if (i < 0 || i >= len) throw new Error(`index out of range: ${i}`);
  return i;
}

function index(item: unknown, ...keys: unknown[]): unknown {
  if (item === null || item === undefined) throw new Error('index of untyped nil');
  for (const key of keys) {
    if (item === null || item === undefined) throw new Error('index of nil pointer');
    if (isHooked(item)) { item = item[fieldHook](String(key)); continue; }
    if (typeof item === 'string') { const b = Buffer.from(item, 'utf8'); item = b[indexArg(key, b.length)]; continue; }
    const items = typeof item === 'object' ? listItems(item) : undefined;
    if (items) { item = items[indexArg(key, items.length)]; continue; }
    if (item instanceof Map) { item = (item as Map<unknown, unknown>).get(key); continue; }
    if (typeof item === 'object') {
      const k = typeof key === 'string' ? key : formatV(key);
      item = Object.prototype.hasOwnProperty.call(item, k) ? (item as Record<string, unknown>)[k] : undefined;
      continue;
    }
    throw new Error(`can't index item of type ${typeName(item)}`);
  }
  return item;
}

function slice(item: unknown, ...idx: unknown[]): unknown {
  if (item === null || item === undefined) throw new Error('slice of untyped nil');
  if (idx.length > 3) throw new Error(`too many slice indexes: ${idx.length}`);
  const isStr = typeof item === 'string';
  const bytes = isStr ? Buffer.from(item, 'utf8') : undefined;
  const items = bytes ? undefined : listItems(item);
  if (!bytes && !items) throw new Error(`can't slice item of type ${typeName(item)}`);
  if (isStr && idx.length === 3) throw new Error('cannot 3-index slice a string');
  const len = bytes ? bytes.length : items!.length;
  const ix = [0, len];
  idx.forEach((v, k) => {
    const x = int(v);
    if (x < 0 || x > len) throw new Error(`index out of range: ${x}`);
    ix[k] = x;
  });
  if (ix[0]! > ix[1]!) throw new Error(`invalid slice index: ${ix[0]} > ${ix[1]}`);
  if (idx.length === 3 && ix[1]! > ix[2]!) throw new Error(`invalid slice index: ${ix[1]} > ${ix[2]}`);
  return bytes ? bytes.subarray(ix[0], ix[1]).toString('utf8') : items!.slice(ix[0], ix[1]);
}

function length(v: unknown): number {
  if (v === null || v === undefined) throw new Error('len of nil pointer');
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (typeof v !== 'object') throw new Error(`len of type ${typeName(v)}`);
  if (isHooked(v)) return 0;
  const items = listItems(v);
  if (items) return items.length;
  if (v instanceof Map) return v.size;
  return Object.keys(v).length;
}

/** Go's evalArgs for html/urlquery/js: a lone string as-is, else fmt.Sprint. */
const argText = (args: unknown[]): string => (args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args));

const HTML_ESC: Record<string, string> = { '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;', '\0': '\uFFFD' };
const JS_ESC: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D' };

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const e = JS_ESC[ch];
    if (e !== undefined) out += e;
    else if (c < 0x20) out += '\\u00' + c.toString(16).toUpperCase().padStart(2, '0');
    else if (c < 0x80 || /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u.test(ch)) out += ch;
    else out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}

function urlQueryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Go's strings.Title: upper-case the first letter of each word. */
function title(s: string): string {
  let out = '';
  let prev = ' ';
  for (const ch of s) {
    const c = prev.codePointAt(0)!;
    const sep = c < 0x80 ? !/[A-Za-z0-9_]/.test(prev) : !/^[\p{L}\p{Nd}]$/u.test(prev) && /^\s$/u.test(prev);
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

/** Go's strings.Replace: n < 0 replaces all. */
function replace(s: string, old: string, rep: string, n = -1): string {
  if (n === 0 || old === rep) return s;
  if (old === '') {
    const chars = [...s];
    let out = '';
    let done = 0;
    for (let k = 0; k <= chars.length; k++) {
      if (n < 0 || done < n) { out += rep; done++; }
      if (k < chars.length) out += chars[k];
    }
    return out;
  }
  const parts = s.split(old);
  if (n < 0 || n >= parts.length - 1) return parts.join(rep);
  return parts.slice(0, n + 1).join(rep) + old + parts.slice(n + 1).join(old);
}

const PASS: Partial<FuncEntry> = { header: 'passthrough' };
const f = (fn: (...args: unknown[]) => unknown, min: number, max = min, extra: Partial<FuncEntry> = {}): FuncEntry => ({ fn, min, max, ...extra });
const INF = Number.POSITIVE_INFINITY;

export const builtinFuncs: ReadonlyMap<string, FuncEntry> = new Map<string, FuncEntry>([
  ['and', f(() => undefined, 1, INF, { special: 'and' })],
  ['or', f(() => undefined, 1, INF, { special: 'or' })],
  ['call', f(() => undefined, 1, INF, { special: 'call' })],
  ['not', f((v) => !truthy(v), 1)],
  ['len', f(length, 1, 1, PASS)],
  ['index', f(index, 1, INF, { header: 'keep' })],
  ['slice', f(slice, 1, 4, PASS)],
  ['print', f((...a) => sprint(a), 0, INF)],
  ['printf', f((fmt, ...a) => sprintf(str(fmt), a), 1, INF, { header: 'keep' })],
  ['println', f((...a) => sprintln(a), 0, INF)],
  ['html', f((...a) => argText(a).replace(/["'&<>\0]/g, (c) => HTML_ESC[c]!), 0, INF)],
  ['urlquery', f((...a) => urlQueryEscape(argText(a)), 0, INF)],
  ['js', f((...a) => jsEscape(argText(a)), 0, INF)],
  ['eq', f(eq, 1, INF)],
  ['ne', f((a, b) => !eq(a, b), 2)],
  ['lt', f(lt, 2)],
  ['le', f((a, b) => lt(a, b) || eq(a, b), 2)],
  ['gt', f((a, b) => !lt(a, b) && !eq(a, b), 2)],
  ['ge', f((a, b) => !lt(a, b), 2)],
  ['json', f((v) => toJSON(v), 1, 1, PASS)],
  ['upper', f((s) => str(s).toUpperCase(), 1, 1, PASS)],
  ['lower', f((s) => str(s).toLowerCase(), 1, 1, PASS)],
  ['title', f((s) => title(str(s)), 1, 1, PASS)],
  ['join', f((a, sep) => strList(a).join(str(sep)), 2, 2, PASS)],
  ['split', f((s, sep) => (str(sep) === '' ? [...str(s)] : str(s).split(str(sep))), 2, 2, PASS)],
  ['truncate', f((s, n) => [...str(s)].slice(0, Math.max(int(n), 0)).join(''), 2, 2, PASS)],
  // pad s n: right-pad to n runes. pad s prefix suffix: Docker's form (spaces before and after).
  ['pad', f((...a) => {
    const s = str(a[0]);
    if (a.length === 3) return s === '' ? s : ' '.repeat(Math.max(int(a[1]), 0)) + s + ' '.repeat(Math.max(int(a[2]), 0));
    return s + ' '.repeat(Math.max(int(a[1]) - [...s].length, 0));
  }, 2, 3)],
  ['contains', f((s, sub) => str(s).includes(str(sub)), 2)],
  ['hasPrefix', f((s, p) => str(s).startsWith(str(p)), 2)],
  ['hasSuffix', f((s, p) => str(s).endsWith(str(p)), 2)],
  ['replace', f((s, o, r, n) => replace(str(s), str(o), str(r), n === undefined ? -1 : int(n)), 3, 4)],
]);
