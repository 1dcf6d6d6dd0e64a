// --format handling for list and inspect output, following Podman/Docker:
//   (none)        the command's default format (a `table ...` format)
//   json          the rows as an indented JSON array
//   table [TMPL]  a header line plus one line per row, aligned with tabwriter
//                 (`table` alone means the default table)
//   TMPL          one execution per row, no header, tabs left as they are
// In formats, the two-character sequences \t and \n (outside {{ }}) mean tab and newline.

import { parseTemplate, type TemplateFuncs } from './template.js';
import { tabwrite } from './tabwriter.js';
import { fieldHook, stringHook, toJSON, type TemplateHooked } from './template-value.js';

export interface ListOptions {
  /** Column headers by field name, e.g. { ID: 'CONTAINER ID' }. Missing fields use the upper-cased name. */
  headers: Record<string, string>;
  /** Used when no format is given or the format is just `table`; starts with `table `. */
  defaultFormat: string;
  funcs?: TemplateFuncs;
}

/** Options Podman and Docker use for table output: tabwriter.NewWriter(w, 12, 2, 2, ' ', 0). */
const TABLE_WRITER = { minwidth: 12, tabwidth: 2, padding: 2, padchar: ' ', flags: 0 };

/** End of the action starting at `start` ("{{"), or -1 if it is not closed. */
function actionEnd(s: string, start: number): number {
  let i = start + 2;
  if (s[i] === '-' && /\s/.test(s[i + 1] ?? '')) i += 2;
  if (s.startsWith('/*', i)) {
    const c = s.indexOf('*/', i + 2);
    if (c < 0) return -1;
    i = c + 2;
  }
  while (i < s.length) {
    const ch = s[i]!;
    if (ch === '}' && s[i + 1] === '}') return i + 2;
    if (ch === '"' || ch === "'") {
      for (i++; i < s.length && s[i] !== ch && s[i] !== '\n'; i++) if (s[i] === '\\') i++;
    } else if (ch === '`') {
      const c = s.indexOf('`', i + 1);
      if (c < 0) return -1;
      i = c;
    }
    i++;
  }
  return -1;
}

/** Turn literal \t and \n outside actions into tab and newline. */
function expandEscapes(format: string): string {
  if (!format.includes('\\')) return format;
  let out = '';
  let i = 0;
  while (i < format.length) {
    const open = format.indexOf('{{', i);
    const textEnd = open < 0 ? format.length : open;
    out += format.slice(i, textEnd).replace(/\\([tn])/g, (_m, c: string) => (c === 't' ? '\t' : '\n'));
    if (open < 0) break;
    const end = actionEnd(format, open);
    if (end < 0) { out += format.slice(open); break; }
    out += format.slice(open, end);
    i = end;
  }
  return out;
}

/** Podman's NormalizeFormat: expand \t and \n, and make each execution end with a newline. */
export function normalizeFormat(format: string): string {
  const f = expandEscapes(format);
  return f.endsWith('\n') ? f : f + '\n';
}

/** Stand-in data for executing a table template to produce its header line. */
class HeaderCell implements TemplateHooked {
  constructor(private readonly headers: Record<string, string>, private readonly path: string, private readonly text: string) {}

  [fieldHook](name: string): HeaderCell {
    const path = this.path ? `${this.path}.${name}` : name;
    const own = (k: string) => (Object.prototype.hasOwnProperty.call(this.headers, k) ? this.headers[k] : undefined);
    return new HeaderCell(this.headers, path, own(path) ?? own(name) ?? name.toUpperCase());
  }

  [stringHook](): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }
}

const TABLE_RE = /^table(?=\s|$)/;

function tableBody(format: string): string | undefined {
  if (!TABLE_RE.test(format)) return undefined;
  return format.slice(5).replace(/^[ \t]+/, '').replace(/ +$/, '');
}

export function renderList(format: string | undefined, rows: readonly object[], opts: ListOptions): string {
  const raw = format === undefined || format === '' ? opts.defaultFormat : format;
  if (raw === 'json') return toJSON(rows, 4) + '\n';
  const f = expandEscapes(raw);
  let body = tableBody(f);
  if (body === undefined) {
    const tmpl = parseTemplate(normalizeFormat(f), opts.funcs);
    return rows.map((r) => tmpl.execute(r)).join('');
  }
  if (body === '') {
    const def = expandEscapes(opts.defaultFormat);
    body = tableBody(def) ?? def;
  }
  const tmpl = parseTemplate(normalizeFormat(body), opts.funcs);
  let text = tmpl.execute(new HeaderCell(opts.headers, '', ''));
  for (const r of rows) text += tmpl.execute(r);
  return tabwrite(text, TABLE_WRITER);
}

/** Render a single object (inspect-style): no table processing, output ends with a newline. */
export function renderOne(format: string, obj: unknown, funcs?: TemplateFuncs): string {
  if (format === 'json') return toJSON(obj, 4) + '\n';
  return parseTemplate(normalizeFormat(format), funcs).execute(obj);
}
