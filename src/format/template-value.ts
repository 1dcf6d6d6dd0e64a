// Value model for the template engine: how JS values look through Go's eyes
// (printing like fmt's %v, truthiness, field lookup, type names).

/** Objects carrying these hooks (e.g. table header cells) control their own field lookup and printing. */
export const fieldHook = Symbol('berth.template.field');
export const stringHook = Symbol('berth.template.string');

export interface TemplateHooked {
  [fieldHook](name: string): unknown;
  [stringHook](): string;
}

export function isHooked(v: unknown): v is TemplateHooked {
  return typeof v === 'object' && v !== null && fieldHook in v;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isArrayLike(v: object): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/** Elements of a list-like value (array, typed array, Set), or undefined. */
export function listItems(v: unknown): unknown[] | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  if (Array.isArray(v)) return v;
  if (isArrayLike(v)) return Array.from(v);
  if (v instanceof Set) return [...v];
  return undefined;
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Key/value pairs of a map-like value (Map, or any other non-list object), sorted by key like Go. */
export function sortedEntries(v: object): [unknown, unknown][] {
  const entries: [unknown, unknown][] = v instanceof Map
    ? [...(v as Map<unknown, unknown>).entries()]
    : Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]]);
  return entries.sort((a, b) => compareKeys(a[0], b[0]));
}

/** Go type name of a value, for error messages and %!verb(type=value) output. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string': return 'string';
    case 'number': return Number.isInteger(v) ? 'int' : 'float64';
    case 'boolean': return 'bool';
    case 'bigint': return 'int64';
    case 'function': return 'func';
    case 'symbol': return 'symbol';
  }
  if (isHooked(v)) return 'string';
  if (v instanceof Date) return 'time.Time';
  if (v instanceof Uint8Array) return '[]uint8';
  if (listItems(v)) return '[]interface {}';
  if (v instanceof Map || isPlainObject(v)) return 'map[string]interface {}';
  const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name ? name : 'object';
}

/** Exact decimal digits (no trailing zeros) and exponent of a finite |n| > 0, or null if too small. */
function exactDecimal(abs: number): { digits: string; exp: number } | null {
  const s = abs >= 1e21 ? BigInt(abs).toString() : abs.toFixed(100);
  const dot = s.indexOf('.');
  const ip = dot < 0 ? s : s.slice(0, dot);
  const all = (ip + (dot < 0 ? '' : s.slice(dot + 1))).replace(/0+$/, '');
  let lead = 0;
  while (lead < all.length && all[lead] === '0') lead++;
  if (lead === all.length) return null;
  return { digits: all.slice(lead), exp: ip.length - 1 - lead };
}

/** Round a digit string to n significant digits, half to even (like Go's strconv). */
function roundDigits(digits: string, exp: number, n: number): { digits: string; exp: number } {
  if (n >= digits.length) return { digits, exp };
  const keep = n > 0 ? digits.slice(0, n) : '';
  let up = false;
  if (n >= 0) {
    const first = digits[n]!;
    if (first > '5' || (first === '5' && /[1-9]/.test(digits.slice(n + 1)))) up = true;
    else if (first === '5') up = keep !== '' && Number(keep[keep.length - 1]) % 2 === 1;
  }
  if (!up) return keep.replace(/0+$/, '') ? { digits: keep.replace(/0+$/, ''), exp } : { digits: '0', exp: 0 };
  const arr = keep.split('');
  let i = arr.length - 1;
  while (i >= 0 && arr[i] === '9') arr[i--] = '0';
  if (i < 0) return { digits: '1', exp: exp + 1 };
  arr[i] = String(Number(arr[i]) + 1);
  return { digits: arr.join('').replace(/0+$/, ''), exp };
}

/** Decimal digits and exponent of |n|: shortest round-trip when prec < 0, else rounded to prec significant digits. */
function decimalDigits(n: number, prec: number): { digits: string; exp: number } {
  const abs = Math.abs(n);
  const exact = prec >= 0 && abs > 0 ? exactDecimal(abs) : null;
  if (exact) return roundDigits(exact.digits, exact.exp, Math.max(prec, 1));
  const s = prec < 0 ? abs.toExponential() : abs.toExponential(Math.min(Math.max(prec - 1, 0), 100));
  const e = s.indexOf('e');
  return { digits: s.slice(0, e).replace('.', ''), exp: Number(s.slice(e + 1)) };
}

export function fmtExp(digits: string, exp: number, frac: number, upper = false): string {
  let m = digits[0]!;
  if (frac > 0) m += '.' + digits.slice(1).padEnd(frac, '0').slice(0, frac);
  const ae = Math.abs(exp);
  return `${m}${upper ? 'E' : 'e'}${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
}

function fmtFixedDigits(digits: string, dp: number, frac: number): string {
  let s = dp <= 0 ? '0' : digits.slice(0, dp).padEnd(dp, '0');
  if (frac > 0) {
    s += '.';
    for (let k = 0; k < frac; k++) {
      const idx = dp + k;
      s += idx >= 0 && idx < digits.length ? digits[idx] : '0';
    }
  }
  return s;
}

/** Go's %g (shortest when prec < 0) for a finite non-negative number. */
export function fmtG(abs: number, prec: number, upper = false): string {
  const shortest = prec < 0;
  if (!shortest && prec === 0) prec = 1;
  let { digits, exp } = decimalDigits(abs, prec);
  digits = digits.replace(/0+$/, '') || '0';
  if (abs === 0) exp = 0;
  const nd = digits.length;
  const dp = exp + 1;
  let eprec = shortest ? 6 : prec;
  if (!shortest && eprec > nd && nd >= dp) eprec = nd;
  if (shortest) prec = nd;
  if (exp < -4 || exp >= eprec) return fmtExp(digits, exp, Math.min(prec, nd) - 1, upper);
  if (prec > dp) prec = nd;
  return fmtFixedDigits(digits, dp, Math.max(prec - dp, 0));
}

/** Go's %e with the given precision for a finite non-negative number. */
export function fmtE(abs: number, prec: number, upper = false): string {
  const { digits, exp } = decimalDigits(abs, prec + 1);
  return fmtExp(digits, abs === 0 ? 0 : exp, prec, upper);
}

/** Go's %f with the given precision for a finite non-negative number. */
export function fmtF(abs: number, prec: number): string {
  const exact = abs > 0 ? exactDecimal(abs) : null;
  if (!exact) return fmtFixedDigits('0', 1, prec);
  const r = roundDigits(exact.digits, exact.exp, exact.exp + 1 + prec);
  return fmtFixedDigits(r.digits, r.exp + 1, prec);
}

/** A number as Go prints it with %v: integers without decimals, floats like %g. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  return (n < 0 ? '-' : '') + fmtG(Math.abs(n), -1);
}

function hasCustomToString(v: object): boolean {
  const ts = (v as { toString?: unknown }).toString;
  return typeof ts === 'function' && ts !== Object.prototype.toString;
}

/** Go's fmt %v rendering. nil prints as <nil>. */
export function formatV(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string': return v;
    case 'number': return formatNumber(v);
    case 'boolean': return v ? 'true' : 'false';
    case 'bigint': return v.toString();
    case 'function': return 'func';
    case 'symbol': return v.toString();
  }
  if (depth > 32) return '...';
  if (isHooked(v)) return v[stringHook]();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  if (v instanceof Error) return v.message;
  const items = listItems(v);
  if (items) return '[' + items.map((e) => formatV(e, depth + 1)).join(' ') + ']';
  if (!(v instanceof Map) && !isPlainObject(v) && hasCustomToString(v)) return String(v);
  return 'map[' + sortedEntries(v).map(([k, x]) => `${formatV(k, depth + 1)}:${formatV(x, depth + 1)}`).join(' ') + ']';
}

/** How an action prints its value: like %v, but a missing value is <no value>. */
export function formatTop(v: unknown): string {
  return v === null || v === undefined ? '<no value>' : formatV(v);
}

/** fmt.Sprint: spaces between operands when neither is a string. */
export function sprint(args: readonly unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatV(a);
  });
  return out;
}

export function sprintln(args: readonly unknown[]): string {
  return args.map((a) => formatV(a)).join(' ') + '\n';
}

/** Go template truthiness. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  switch (typeof v) {
    case 'boolean': return v;
    case 'number': return v !== 0;
    case 'bigint': return v !== 0n;
    case 'string': return v.length > 0;
    case 'object': break;
    default: return true;
  }
  if (isHooked(v)) return true;
  const items = listItems(v);
  if (items) return items.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

export const NOT_AN_OBJECT = Symbol('not-an-object');

/** Look up a field on a map-like value; NOT_AN_OBJECT when fields don't apply to it. */
export function lookupField(receiver: unknown, name: string): unknown {
  if (typeof receiver !== 'object' || receiver === null || listItems(receiver)) return NOT_AN_OBJECT;
  if (receiver instanceof Map) return (receiver as Map<unknown, unknown>).get(name);
  const own = Object.prototype.hasOwnProperty;
  for (let p: object | null = receiver; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    if (own.call(p, name)) return Reflect.get(receiver, name);
  }
  return undefined;
}

/** JSON text like Go's json.Marshal (compact) or indented; Maps and Sets become objects and arrays. */
export function toJSON(v: unknown, indent?: number): string {
  const text = JSON.stringify(v, (_k, x: unknown) => {
    if (x instanceof Map) return Object.fromEntries([...(x as Map<unknown, unknown>).entries()].map(([k, y]) => [String(k), y]));
    if (x instanceof Set) return [...x];
    if (typeof x === 'bigint') return Number.isSafeInteger(Number(x)) ? Number(x) : x.toString();
    if (isHooked(x)) return x[stringHook]();
    return x;
  }, indent);
  return text === undefined ? 'null' : text;
}
