// Lexer for Go text/template syntax (as used by `--format`). Produces a flat token
// list; text outside actions becomes 'text' tokens with trim markers already applied.

import { BerthError } from '../engine/errors.js';

export type TokKind =
  | 'text' | 'left' | 'right' | 'space' | 'field' | 'var' | 'ident' | 'keyword'
  | 'dot' | 'string' | 'number' | 'bool' | 'nil' | 'pipe' | 'lparen' | 'rparen'
  | 'declare' | 'assign' | 'comma' | 'eof';

export interface Token {
  k: TokKind;
  /** Raw source text of the token (decoded text for 'text' tokens). */
  v: string;
  pos: number;
  /** Literal value of string, number and bool tokens. */
  lit?: string | number | boolean;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);

/** Position in "line:col" form (col 0-based, like Go's ErrorContext). */
export function location(src: string, pos: number): string {
  const before = src.slice(0, pos);
  let line = 1;
  for (let i = 0; i < before.length; i++) if (before.charCodeAt(i) === 10) line++;
  return `${line}:${pos - (before.lastIndexOf('\n') + 1)}`;
}

export function syntaxError(src: string, pos: number, msg: string): BerthError {
  return new BerthError('invalid-argument', `template: ${location(src, pos)}: ${msg}`);
}

const isSpaceCode = (c: number) => c === 32 || c === 9 || c === 13 || c === 10;
const ALNUM_RE = /^[\p{L}\p{Nd}_]$/u;

function isAlnumAt(s: string, i: number): number {
  // Returns the length (in UTF-16 units) of the alphanumeric char at i, or 0.
  const c = s.charCodeAt(i);
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95) return 1;
  if (c < 128 || Number.isNaN(c)) return 0;
  const cp = s.codePointAt(i)!;
  const ch = String.fromCodePoint(cp);
  return ALNUM_RE.test(ch) ? ch.length : 0;
}

function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isSpaceCode(s.charCodeAt(i))) i++;
  return s.slice(i);
}
function trimRightSpace(s: string): string {
  let i = s.length;
  while (i > 0 && isSpaceCode(s.charCodeAt(i - 1))) i--;
  return s.slice(0, i);
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/** Decode Go escape sequences in the body of a quoted string or char literal. */
export function unescapeGo(src: string, body: string, pos: number, quote: string): string {
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') { out += ch; continue; }
    const e = body[++i];
    const simple = e === undefined ? undefined : SIMPLE_ESCAPES[e];
    if (simple !== undefined) { out += simple; continue; }
    if (e === quote) { out += e; continue; }
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLen) {
      const h = body.slice(i + 1, i + 1 + hexLen);
      if (h.length !== hexLen || !/^[0-9a-fA-F]+$/.test(h)) throw syntaxError(src, pos, `invalid syntax in string: \\${e}${h}`);
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000 && e !== 'x')) throw syntaxError(src, pos, `invalid escape \\${e}${h}`);
      out += String.fromCodePoint(cp);
      i += hexLen;
      continue;
    }
    if (e !== undefined && e >= '0' && e <= '7') {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) throw syntaxError(src, pos, `invalid octal escape \\${o}`);
      out += String.fromCharCode(parseInt(o, 8));
      i += 2;
      continue;
    }
    throw syntaxError(src, pos, `unknown escape sequence \\${e ?? ''}`);
  }
  return out;
}

function parseNumber(src: string, text: string, pos: number): number {
  if (text.endsWith('i')) throw syntaxError(src, pos, `complex numbers are not supported: ${text}`);
  const clean = text.replace(/_/g, '');
  let sign = 1;
  let body = clean;
  if (body[0] === '+' || body[0] === '-') { sign = body[0] === '-' ? -1 : 1; body = body.slice(1); }
  let value = NaN;
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) value = parseInt(body.slice(2), 16);
  else if (/^0[oO][0-7]+$/.test(body)) value = parseInt(body.slice(2), 8);
  else if (/^0[bB][01]+$/.test(body)) value = parseInt(body.slice(2), 2);
  else if (/^0[0-7]+$/.test(body)) value = parseInt(body.slice(1), 8);
  else if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body) && !/^0\d+$/.test(body)) value = Number(body);
  if (Number.isNaN(value)) throw syntaxError(src, pos, `illegal number syntax: ${JSON.stringify(text)}`);
  return sign * value;
}

export function lex(src: string): Token[] {
  const toks: Token[] = [];
  const n = src.length;
  let i = 0;
  let trimNext = false;

  const atTerminator = (p: number): boolean => {
    if (p >= n) return true;
    const c = src[p]!;
    return isSpaceCode(c.charCodeAt(0)) || '.,|:()'.includes(c) || src.startsWith('}}', p);
  };
  const scanAlnum = (p: number): number => {
    for (let l; (l = isAlnumAt(src, p)) > 0;) p += l;
    return p;
  };
  const badChar = (p: number): never => {
    const cp = src.codePointAt(p)!;
    throw syntaxError(src, p, `bad character U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${String.fromCodePoint(cp)}'`);
  };

  const lexAction = (start: number, leftTrim: boolean): number => {
    let p = start + (leftTrim ? 4 : 2);
    if (src.startsWith('/*', p)) {
      const end = src.indexOf('*/', p + 2);
      if (end < 0) throw syntaxError(src, start, 'unclosed comment');
      p = end + 2;
      if (src.startsWith('}}', p)) { trimNext = false; return p + 2; }
      if (p < n && isSpaceCode(src.charCodeAt(p)) && src.startsWith('-}}', p + 1)) { trimNext = true; return p + 4; }
      throw syntaxError(src, start, 'comment ends before closing delimiter');
    }
    toks.push({ k: 'left', v: '{{', pos: start });
    let depth = 0;
    for (;;) {
      if (p >= n) throw syntaxError(src, start, 'unclosed action');
      const c = src.charCodeAt(p);
      const ch = src[p]!;
      if (c === 125 && src.charCodeAt(p + 1) === 125) {
        if (depth > 0) throw syntaxError(src, p, 'unclosed left paren');
        toks.push({ k: 'right', v: '}}', pos: p });
        trimNext = false;
        return p + 2;
      }
      if (isSpaceCode(c)) {
        let q = p;
        while (q < n && isSpaceCode(src.charCodeAt(q))) q++;
        if (src.startsWith('-}}', q)) {
          if (depth > 0) throw syntaxError(src, q, 'unclosed left paren');
          toks.push({ k: 'right', v: '}}', pos: q + 1 });
          trimNext = true;
          return q + 3;
        }
        toks.push({ k: 'space', v: src.slice(p, q), pos: p });
        p = q;
        continue;
      }
      const tokStart = p;
      if (ch === '=') { toks.push({ k: 'assign', v: '=', pos: p++ }); continue; }
      if (ch === ':') {
        if (src[p + 1] !== '=') throw syntaxError(src, p, 'expected :=');
        toks.push({ k: 'declare', v: ':=', pos: p });
        p += 2;
        continue;
      }
      if (ch === '|') { toks.push({ k: 'pipe', v: '|', pos: p++ }); continue; }
      if (ch === ',') { toks.push({ k: 'comma', v: ',', pos: p++ }); continue; }
      if (ch === '(') { depth++; toks.push({ k: 'lparen', v: '(', pos: p++ }); continue; }
      if (ch === ')') {
        if (--depth < 0) throw syntaxError(src, p, 'unexpected right paren');
        toks.push({ k: 'rparen', v: ')', pos: p++ });
        continue;
      }
      if (ch === '"') {
        let q = p + 1;
        for (;;) {
          const d = src[q];
          if (d === undefined || d === '\n') throw syntaxError(src, p, 'unterminated quoted string');
          if (d === '\\') { if (q + 1 >= n || src[q + 1] === '\n') throw syntaxError(src, p, 'unterminated quoted string'); q += 2; continue; }
          if (d === '"') break;
          q++;
        }
        const raw = src.slice(p, q + 1);
        toks.push({ k: 'string', v: raw, pos: p, lit: unescapeGo(src, raw.slice(1, -1), p, '"') });
        p = q + 1;
        continue;
      }
      if (ch === '`') {
        const q = src.indexOf('`', p + 1);
        if (q < 0) throw syntaxError(src, p, 'unterminated raw quoted string');
        const raw = src.slice(p, q + 1);
        toks.push({ k: 'string', v: raw, pos: p, lit: raw.slice(1, -1).replace(/\r/g, '') });
        p = q + 1;
        continue;
      }
      if (ch === "'") {
        let q = p + 1;
        for (;;) {
          const d = src[q];
          if (d === undefined || d === '\n') throw syntaxError(src, p, 'unterminated character constant');
          if (d === '\\') { q += 2; continue; }
          if (d === "'") break;
          q++;
        }
        const raw = src.slice(p, q + 1);
        const decoded = unescapeGo(src, raw.slice(1, -1), p, "'");
        const cps = [...decoded];
        if (cps.length !== 1) throw syntaxError(src, p, `malformed character constant: ${raw}`);
        toks.push({ k: 'number', v: raw, pos: p, lit: cps[0]!.codePointAt(0)! });
        p = q + 1;
        continue;
      }
      if (ch === '$') {
        p = scanAlnum(p + 1);
        if (!atTerminator(p)) badChar(p);
        toks.push({ k: 'var', v: src.slice(tokStart, p), pos: tokStart });
        continue;
      }
      if (ch === '.' && !(src.charCodeAt(p + 1) >= 48 && src.charCodeAt(p + 1) <= 57)) {
        if (atTerminator(p + 1)) { toks.push({ k: 'dot', v: '.', pos: p++ }); continue; }
        p = scanAlnum(p + 1);
        if (!atTerminator(p)) badChar(p);
        toks.push({ k: 'field', v: src.slice(tokStart, p), pos: tokStart });
        continue;
      }
      if (ch === '+' || ch === '-' || ch === '.' || (c >= 48 && c <= 57)) {
        const m = /^[+-]?(0[xX][0-9a-fA-F_]*(\.[0-9a-fA-F_]*)?([pP][+-]?[0-9_]*)?|0[oO][0-7_]*|0[bB][01_]*|[0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9_]*)?)i?/.exec(src.slice(p, p + 256))!;
        let q = p + m[0].length;
        if (isAlnumAt(src, q)) throw syntaxError(src, p, `bad number syntax: ${JSON.stringify(src.slice(p, q + 1))}`);
        const text = src.slice(p, q);
        toks.push({ k: 'number', v: text, pos: p, lit: parseNumber(src, text, p) });
        p = q;
        continue;
      }
      if (isAlnumAt(src, p)) {
        p = scanAlnum(p);
        if (!atTerminator(p)) badChar(p);
        const word = src.slice(tokStart, p);
        if (KEYWORDS.has(word)) toks.push({ k: 'keyword', v: word, pos: tokStart });
        else if (word === 'true' || word === 'false') toks.push({ k: 'bool', v: word, pos: tokStart, lit: word === 'true' });
        else if (word === 'nil') toks.push({ k: 'nil', v: word, pos: tokStart });
        else toks.push({ k: 'ident', v: word, pos: tokStart });
        continue;
      }
      const cp = src.codePointAt(p)!;
      throw syntaxError(src, p, `unrecognized character in action: U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${String.fromCodePoint(cp)}'`);
    }
  };

  while (i < n) {
    let j = src.indexOf('{{', i);
    if (j < 0) j = n;
    let text = src.slice(i, j);
    const leftTrim = j < n && src.charCodeAt(j + 2) === 45 && isSpaceCode(src.charCodeAt(j + 3));
    if (trimNext) text = trimLeftSpace(text);
    if (leftTrim) text = trimRightSpace(text);
    trimNext = false;
    if (text) toks.push({ k: 'text', v: text, pos: i });
    if (j >= n) break;
    i = lexAction(j, leftTrim);
  }
  toks.push({ k: 'eof', v: '', pos: n });
  return toks;
}
